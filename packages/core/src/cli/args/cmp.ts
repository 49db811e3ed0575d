/** kprobecov cmp: its options, help and builder. */
import { DEFAULT_CMP_BUFFER, MAX_CMP_BUFFER, MIN_KCOV_BUFFER } from '../../defaults.ts'
import { VMLINUX } from '../../device/vmlinux.ts'
import { flag, int, list, resolveIn, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, moduleSpecs, type ModuleSpec } from './shared.ts'

export const CMP_SPEC: CommandSpec = {
  summary: 'the comparisons a command makes in a module, with their operands (KCOV)',
  usage: 'kprobecov cmp --module NAME[=PATH.ko] [--json] [--buffer N] -- CMD [ARGS...]',
  options: { module: LIVE.module, root: LIVE.root, progress: LIVE.progress, json: { type: 'boolean' }, buffer: { type: 'string' } },
  help: `
  -m, --module NAME[=PATH.ko]  the module whose comparisons to show (repeatable); PATH: its .ko
                               with debug info, built with KCOV's instrumentation (default: found
                               with modinfo)
      --root DIR               project root: source paths are relative to it (default: .)
      --json                   one JSON array of records instead of a table
      --buffer N               comparisons each thread holds between drains (default ${DEFAULT_CMP_BUFFER})
      --progress               show progress on stderr also when it is not a terminal`,
  notes: `Needs a kernel with CONFIG_KCOV_ENABLE_COMPARISONS (KCOV_TRACE_CMP). CMD, its threads and
the processes it starts are traced (a library in LD_PRELOAD). Prints one row per distinct
comparison: FILE:LINE FUNCTION, the operand size in bytes (c: the first operand is a
constant of the code; switch: a case value against the switch's), both operands in hex,
and how often it was made. Exits with the command's status. Example:
  kprobecov cmp --module mydrv=build/mydrv.ko -- ./test/smoke.sh`,
  positionals: [0, 0],
  after: 'required',
}

export interface CmpOptions {
  modules: ModuleSpec[]
  root: string
  progress: boolean
  json: boolean
  buffer: number
  command: string[]
}

export function cmpOptions(p: Parsed, cwd: string): CmpOptions {
  if (list(p, 'module').some((m) => m.split('=')[0] === VMLINUX)) {
    throw usage(p, 'KCOV comparisons are shown for loadable modules, not vmlinux: give a module built with KCOV instrumentation')
  }
  const modules = moduleSpecs(p, cwd)
  if (modules.length === 0) throw usage(p, '--module is required, e.g. --module mydrv=path/to/mydrv.ko')
  return {
    modules,
    root: resolveIn(cwd, str(p, 'root') ?? '.'),
    progress: flag(p, 'progress'),
    json: flag(p, 'json'),
    buffer: int(p, 'buffer', MIN_KCOV_BUFFER, MAX_CMP_BUFFER, DEFAULT_CMP_BUFFER),
    command: p.argv!,
  }
}
