/** kprobecov trace: its options, help and builder. */
import { DEFAULT_TRACE_ENTRIES } from '../../defaults.ts'
import { int, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, LIVE_HELP, liveOptions, type LiveOptions } from './shared.ts'

export const TRACE_SPEC: CommandSpec = {
  summary: "the probes a command's main thread hits, in order (as KCOV's trace mode)",
  usage: 'kprobecov trace --module NAME[=PATH.ko] [options] -- CMD [ARGS...]',
  options: { ...LIVE, 'trace-entries': { type: 'string' } },
  help: `${LIVE_HELP}
      --trace-entries N        hits to record at most (default ${DEFAULT_TRACE_ENTRIES})`,
  notes: `Prints function:line per hit. Exits with the command's status.`,
  positionals: [0, 0],
  after: 'required',
}

export interface TraceOptions extends LiveOptions {
  traceEntries: number
  command: string[]
}

export function traceOptions(p: Parsed, cwd: string): TraceOptions {
  return {
    ...liveOptions(p, cwd),
    traceEntries: int(p, 'trace-entries', 1, 1 << 24, DEFAULT_TRACE_ENTRIES),
    command: p.argv!,
  }
}
