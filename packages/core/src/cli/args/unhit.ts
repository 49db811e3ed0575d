/** kprobecov unhit: its options, help and builder. */
import { GRANULARITIES, type Granularity } from '../../defaults.ts'
import { flag, int, list, oneOf, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, OUT, LIVE_HELP, SAVED_HELP, queryTarget, type QueryTarget } from './shared.ts'

export const UNHIT_SPEC: CommandSpec = {
  summary: 'the next function, line or branch never hit',
  usage: 'kprobecov unhit [--kind KIND] [--skip N] [--all] [--out DIR | --module ... [-- CMD]]',
  options: {
    ...LIVE, ...OUT,
    kind: { type: 'string', short: 'k' },
    skip: { type: 'string', short: 's' },
    all: { type: 'boolean', short: 'a' },
  },
  help: `
  -k, --kind KIND              function (default): function entries; line: any probe (each proves
                               lines); branch: branch arms (runs made with --granularity branch)
  -s, --skip N                 pass over the first N never-hit probes
  -a, --all                    list every never-hit probe${SAVED_HELP}${LIVE_HELP}`,
  positionals: [0, 0],
  after: 'optional',
}

export type UnhitKind = Granularity

export interface UnhitOptions {
  target: QueryTarget
  kind: UnhitKind
  skip: number
  all: boolean
}

export function unhitOptions(p: Parsed, cwd: string): UnhitOptions {
  const skip = int(p, 'skip', 0, Number.MAX_SAFE_INTEGER, 0)
  const all = flag(p, 'all')
  if (all && str(p, 'skip') !== undefined) throw usage(p, '--all lists every never-hit probe: --skip goes with one')
  return { target: queryTarget(p, cwd), kind: oneOf(p, 'kind', GRANULARITIES, 'function'), skip, all }
}
