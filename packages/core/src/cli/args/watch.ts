/** kprobecov watch: its options, help and builder. */
import { int, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, LIVE_HELP, liveOptions, type LiveOptions } from './shared.ts'

export const WATCH_SPEC: CommandSpec = {
  summary: 'print new coverage as it appears, for a command or for a while',
  usage: 'kprobecov watch --module NAME[=PATH.ko] [--duration SECONDS | --pid PID] [-- CMD [ARGS...]]',
  options: { ...LIVE, duration: { type: 'string', short: 'd' }, pid: { type: 'string', short: 'p' } },
  help: `${LIVE_HELP}
  -d, --duration SECONDS       without CMD: stop after this long (default: at Ctrl-C)
  -p, --pid PID                watch a running process and its later children
                               (without CMD and --pid: every task, interrupts too; needs root)`,
  notes: `With CMD, watches until it ends and exits with its status. Ctrl-C ends it cleanly.`,
  positionals: [0, 0],
  after: 'optional',
}

export interface WatchOptions extends LiveOptions {
  /** Milliseconds; undefined: until the command ends or Ctrl-C. */
  duration: number | undefined
  pid: number | undefined
  command: string[] | undefined
}

export function watchOptions(p: Parsed, cwd: string): WatchOptions {
  const d = str(p, 'duration')
  let duration: number | undefined
  if (d !== undefined) {
    const s = /^\d+(\.\d+)?$/.test(d) ? Number(d) : NaN
    if (!(s > 0)) throw usage(p, `--duration must be a positive number of seconds, not '${d}'`)
    duration = s * 1000
  }
  const pid = str(p, 'pid') === undefined ? undefined : int(p, 'pid', 1, 2 ** 22, 0)
  if (pid !== undefined && p.argv !== undefined) throw usage(p, 'give --pid (a running process) or a command after --, not both')
  if (duration !== undefined && p.argv !== undefined) throw usage(p, 'give --duration or a command after --, not both: a command is watched until it ends')
  return { ...liveOptions(p, cwd), duration, pid, command: p.argv }
}
