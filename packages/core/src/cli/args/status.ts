/** kprobecov status: its options, help and builder. */
import { flag, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, OUT, LIVE_HELP, SAVED_HELP, queryTarget, type QueryTarget } from './shared.ts'

export const STATUS_SPEC: CommandSpec = {
  summary: 'per function: probes planted, armed, pending, gone, failed, hit; the coverage ratio',
  usage: 'kprobecov status [--out DIR | --module NAME[=PATH.ko] [-- CMD [ARGS...]]] [--probes]',
  options: { ...LIVE, ...OUT, probes: { type: 'boolean' } },
  help: `${SAVED_HELP}${LIVE_HELP}
      --probes                 one row per probe instead of per function`,
  positionals: [0, 0],
  after: 'optional',
}

export interface StatusOptions {
  target: QueryTarget
  probes: boolean
}

export function statusOptions(p: Parsed, cwd: string): StatusOptions {
  return { target: queryTarget(p, cwd), probes: flag(p, 'probes') }
}
