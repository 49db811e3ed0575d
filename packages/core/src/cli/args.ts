/**
 * The command line: `kprobecov <command> [options] [-- CMD ARGS...]`, parsed
 * with node:util's parseArgs, checked, and turned into typed options. Every
 * mistake is a UsageError with one line that says what to write instead
 * (exit status 2). Help texts live next to the options they describe.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import path from 'node:path'
import type { ReportType } from 'istanbul-reports'
import { DEFAULT_DEVICE } from '../device/collector.ts'
import { VMLINUX } from '../device/vmlinux.ts'
import {
  BACKENDS, BACKEND_ENV, DEFAULT_BACKEND, DEFAULT_CMP_BUFFER, DEFAULT_EDGE_BITS, DEFAULT_GRANULARITY, DEFAULT_KCOV_BUFFER,
  DEFAULT_OUT, DEFAULT_TRACE_ENTRIES, GRANULARITIES, MAX_CMP_BUFFER, MAX_KCOV_BUFFER, MIN_KCOV_BUFFER, type Backend, type Granularity,
} from '../defaults.ts'
import { MAX_EDGE_BITS } from '../native/abi.ts'

export class UsageError extends Error {
  override name = 'UsageError'
}

export const COMMANDS = ['run', 'report', 'merge', 'status', 'unhit', 'callers', 'paths', 'trace', 'cmp', 'watch', 'doctor', 'module'] as const
export type CommandName = (typeof COMMANDS)[number]

/** istanbul-reports' reporters. */
export const REPORTERS: readonly ReportType[] = [
  'clover', 'cobertura', 'html', 'html-spa', 'json', 'json-summary', 'lcov', 'lcovonly', 'none', 'teamcity',
  'text', 'text-lcov', 'text-summary',
]
export const DEFAULT_REPORTERS: readonly ReportType[] = ['lcov', 'text-summary']
export { DEFAULT_EDGE_BITS, DEFAULT_KCOV_BUFFER, DEFAULT_OUT, DEFAULT_TRACE_ENTRIES }
export type CliBackend = Backend

type Values = Record<string, string | boolean | string[] | undefined>

export interface Parsed {
  command: CommandName
  values: Values
  positionals: string[]
  /** The words after `--`, undefined without `--`. */
  argv: string[] | undefined
}

export type ParseResult = { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'command'; parsed: Parsed }

// ---- options, shared between commands -------------------------------------------------------

const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies ParseArgsOptionsConfig
const VMLINUX_GLOBS = {
  sources: { type: 'string', multiple: true },
  functions: { type: 'string', multiple: true },
} as const satisfies ParseArgsOptionsConfig
const LIVE = {
  module: { type: 'string', short: 'm', multiple: true },
  ...VMLINUX_GLOBS,
  granularity: { type: 'string', short: 'g' },
  device: { type: 'string' },
  progress: { type: 'boolean' },
  root: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig
const OUT = { out: { type: 'string', short: 'o' } } as const satisfies ParseArgsOptionsConfig
const REPORTER = { reporter: { type: 'string', short: 'r', multiple: true } } as const satisfies ParseArgsOptionsConfig

const GLOBS_HELP = `
      --sources GLOB           vmlinux: the functions of these source files, as paths in the
                               kernel tree, e.g. 'fs/ext4/**' (repeatable)
      --functions GLOB         vmlinux: the functions of these names, e.g. '__x64_sys_*'
                               (repeatable)`
const MODULE_HELP = `
  -m, --module NAME[=PATH.ko]  the module to measure (repeatable); PATH: the .ko with debug info
                               it was loaded from (default: found with modinfo). It may be loaded
                               already or be loaded by the command (module_init is covered then)
  -m, --module vmlinux[=PATH]  built-in code, chosen with --sources and --functions; PATH: the
                               running kernel's vmlinux with debug info (default: where debug
                               packages install it, e.g. linux-image-$(uname -r)-dbg on Debian)${GLOBS_HELP}`
const LIVE_HELP = `${MODULE_HELP}
  -g, --granularity KIND       function, line or branch (default branch: lines and branches)
      --device PATH            the kprobecov device (default ${DEFAULT_DEVICE})
      --root DIR               project root: report paths are relative to it (default: .); a
                               vmlinux's sources are named as in its kernel tree (kernel/sys.c):
                               give that tree's source as DIR to see them in the reports
      --progress               show progress on stderr also when it is not a terminal`
const SAVED_HELP = `
  -o, --out DIR                the saved run to read (default ${DEFAULT_OUT}), when no --module
                               is given; with --module, the command is measured now instead`
const REPORTER_HELP = `
  -r, --reporter NAME          istanbul reporter (repeatable; default lcov and text-summary):
                               ${REPORTERS.slice(0, 7).join(', ')},
                               ${REPORTERS.slice(7).join(', ')}`

interface CommandSpec {
  summary: string
  usage: string
  options: ParseArgsOptionsConfig
  help: string
  /** Text after the options. */
  notes?: string
  /** How many words before `--` (positionals). */
  positionals: [min: number, max: number]
  /** Whether a command after `--` is refused, allowed or needed. */
  after: 'no' | 'optional' | 'required'
}

const SPECS: Record<CommandName, CommandSpec> = {
  run: {
    summary: 'run a command and measure the kernel code it (and its children) runs',
    usage: 'kprobecov run --module NAME[=PATH.ko] [options] -- CMD [ARGS...]',
    options: {
      ...LIVE, ...OUT, ...REPORTER,
      callers: { type: 'boolean' },
      'edge-bits': { type: 'string' },
      backend: { type: 'string', short: 'b' },
      'kcov-buffer': { type: 'string' },
    },
    help: `${LIVE_HELP}
  -o, --out DIR                where the reports and the saved run go (default ${DEFAULT_OUT});
                               replaced as a whole when the run succeeds, kept when it fails${REPORTER_HELP}
      --callers                record the callers of every function (for kprobecov callers)
      --edge-bits N            log2 of the edge counters (for kprobecov paths; default ${DEFAULT_EDGE_BITS}, 0: none)
  -b, --backend NAME           kprobe (kprobecov.ko), kcov (the kernel's KCOV: CONFIG_KCOV, and the
                               module built with its instrumentation) or auto (default, or
                               $KPROBECOV_BACKEND): kprobe when ${DEFAULT_DEVICE} exists, else kcov
      --kcov-buffer N          kcov: records each thread holds between drains (default ${DEFAULT_KCOV_BUFFER})`,
    notes: `Writes DIR/lcov.info (and what the reporters write) and DIR/kprobecov-run.json, the
saved run that report, status, unhit, callers and paths read. Exits with the command's
status. With --backend kcov, CMD and the processes it starts trace themselves (a library
in LD_PRELOAD: not static or set-uid programs) and count once they have exited; --callers
and --edge-bits are kprobe's. Example:
  kprobecov run --module mydrv=build/mydrv.ko -- ./test/smoke.sh`,
    positionals: [0, 0],
    after: 'required',
  },
  report: {
    summary: 'write the reports of a saved run again, with other reporters',
    usage: 'kprobecov report [--out DIR] [--reporter NAME]...',
    options: { ...OUT, ...REPORTER, root: { type: 'string' } },
    help: `
  -o, --out DIR                the saved run (default ${DEFAULT_OUT}); the reports replace its own${REPORTER_HELP}
      --root DIR               project root for report paths (default: the run's)`,
    positionals: [0, 0],
    after: 'no',
  },
  merge: {
    summary: 'merge lcov and Istanbul JSON files (e.g. of CI shards) into one report',
    usage: 'kprobecov merge FILE... --out DIR [--reporter NAME]...',
    options: { ...OUT, ...REPORTER, root: { type: 'string' } },
    help: `
  FILE                         an lcov tracefile or an Istanbul JSON (coverage-final.json)
  -o, --out DIR                where the merged reports go (replaced as a whole)${REPORTER_HELP}
      --root DIR               project root: paths inside it become relative (default: .)`,
    positionals: [0, Infinity],
    after: 'no',
  },
  status: {
    summary: 'per function: probes planted, armed, pending, gone, failed, hit; the coverage ratio',
    usage: 'kprobecov status [--out DIR | --module NAME[=PATH.ko] [-- CMD [ARGS...]]] [--probes]',
    options: { ...LIVE, ...OUT, probes: { type: 'boolean' } },
    help: `${SAVED_HELP}${LIVE_HELP}
      --probes                 one row per probe instead of per function`,
    positionals: [0, 0],
    after: 'optional',
  },
  unhit: {
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
  },
  callers: {
    summary: 'who called a function, and how often (runs made with --callers)',
    usage: 'kprobecov callers FUNC [--out DIR | --module ... [-- CMD]]',
    options: { ...LIVE, ...OUT },
    help: `
  FUNC                         a function's name (or its symbol, e.g. foo.constprop.0)${SAVED_HELP}${LIVE_HELP}`,
    positionals: [0, 1],
    after: 'optional',
  },
  paths: {
    summary: 'the edge map: which control-flow edges between probes ran',
    usage: 'kprobecov paths [--dot] [--out DIR | --module ... [-- CMD]]',
    options: { ...LIVE, ...OUT, dot: { type: 'boolean' }, 'edge-bits': { type: 'string' } },
    help: `
      --dot                    Graphviz instead of a list (kprobecov paths --dot | dot -Tsvg)
      --edge-bits N            with --module: log2 of the edge counters (default ${DEFAULT_EDGE_BITS})${SAVED_HELP}${LIVE_HELP}`,
    notes: `The kernel counts edges AFL-style, hashed into 2^N buckets: two edges that share a
bucket look alike, so an edge can look hit because another one ran.`,
    positionals: [0, 0],
    after: 'optional',
  },
  trace: {
    summary: "the probes a command's main thread hits, in order (as KCOV's trace mode)",
    usage: 'kprobecov trace --module NAME[=PATH.ko] [options] -- CMD [ARGS...]',
    options: { ...LIVE, 'trace-entries': { type: 'string' } },
    help: `${LIVE_HELP}
      --trace-entries N        hits to record at most (default ${DEFAULT_TRACE_ENTRIES})`,
    notes: `Prints function:line per hit. Exits with the command's status.`,
    positionals: [0, 0],
    after: 'required',
  },
  cmp: {
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
  },
  watch: {
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
  },
  doctor: {
    summary: 'check the kernel, the device, permissions and debug info; say how to fix each problem',
    usage: 'kprobecov doctor [--module NAME[=PATH.ko] | vmlinux --sources GLOB]... [--device PATH]',
    options: { module: LIVE.module, ...VMLINUX_GLOBS, device: LIVE.device, granularity: LIVE.granularity },
    help: `
  -m, --module NAME[=PATH.ko]  also check this module's .ko: debug info, that it is the loaded
                               one, and how many probes it gets
  -m, --module vmlinux[=PATH]  also check the vmlinux (default: where debug packages install it):
                               debug info, that it is the running kernel's, the probes of the code
                               --sources and --functions choose${GLOBS_HELP}
  -g, --granularity KIND       for that count: function, line or branch (default branch)
      --device PATH            the kprobecov device (default ${DEFAULT_DEVICE})`,
    positionals: [0, 0],
    after: 'no',
  },
  module: {
    summary: 'build kprobecov.ko for a kernel (cached), load, unload, show it, install it into DKMS',
    usage: 'kprobecov module build|load|unload|status|dkms [options]',
    options: {
      kdir: { type: 'string' },
      rebuild: { type: 'boolean' },
      reload: { type: 'boolean' },
      param: { type: 'string', short: 'p', multiple: true },
      group: { type: 'string' },
      device: LIVE.device,
    },
    help: `
      --kdir DIR               the kernel build tree to build against (default
                               /lib/modules/$(uname -r)/build, from the kernel's headers package)
      --rebuild                build again although the cache has this build
  -p, --param NAME=VALUE       load: a module parameter (repeatable), e.g. --param
                               max_probes=262144; see modinfo kprobecov
      --group GROUP            load: give ${DEFAULT_DEVICE} to GROUP, read-write for it
                               (dev_mode=0660 unless --param dev_mode is given): its members can
                               run tests without root
      --reload                 load: unload a kprobecov.ko that is loaded already first (another
                               version, or to change parameters)
      --device PATH            status: the device (default ${DEFAULT_DEVICE})`,
    notes: `  build   builds kprobecov.ko from the sources of @kprobecov/kmod against the kernel's headers,
          once per kernel release and source (cache: $KPROBECOV_CACHE, else ~/.cache/kprobecov)
  load    build (if needed), then insmod with the parameters; checks that the module speaks
          this version's ABI (root)
  unload  rmmod kprobecov (root)
  status  the loaded module: version, parameters, device, ABI; the cached build for this kernel
  dkms    installs the sources into DKMS (/usr/src/kprobecov-<version>), builds and installs the
          module for the running kernel; DKMS rebuilds it for every new kernel (root)
Example:
  sudo npx kprobecov module load --group kerneldev`,
    positionals: [1, 1],
    after: 'no',
  },
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length))
  return `Usage: kprobecov <command> [options]

Kernel code coverage of any command, with kprobes planted at run time (kprobecov.ko),
or with the kernel's KCOV (run --backend kcov, cmp).

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(width)}  ${SPECS[c].summary}`).join('\n')}

Run 'kprobecov <command> --help' for its options. Example:
  sudo kprobecov run --module mydrv=build/mydrv.ko --out coverage/kernel -- ./test/smoke.sh
`
}

export function commandHelp(command: CommandName): string {
  const s = SPECS[command]
  return `Usage: ${s.usage}

${s.summary[0]!.toUpperCase()}${s.summary.slice(1)}.

Options:${s.help}
  -h, --help                   this help
${s.notes === undefined ? '' : `\n${s.notes}\n`}`
}

const see = (command?: CommandName) => (command ? `see kprobecov ${command} --help` : 'see kprobecov --help')

/** Parses argv (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): ParseResult {
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError(`kprobecov: no command given (${see()})`)
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help', text: mainHelp() }
  if (first === '--version' || first === '-v') return { kind: 'version' }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(first.startsWith('-')
      ? `kprobecov: the command comes first, before ${first} (${see()})`
      : `kprobecov: unknown command '${first}' (${see()})`)
  }
  const command = first as CommandName
  const spec = SPECS[command]
  const dashes = rest.indexOf('--')
  const args = dashes < 0 ? rest : rest.slice(0, dashes)
  const after = dashes < 0 ? undefined : rest.slice(dashes + 1)
  const fail = (message: string): never => {
    throw new UsageError(`kprobecov ${command}: ${message} (${see(command)})`)
  }
  let values: Values
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({ args, options: { ...spec.options, ...HELP }, allowPositionals: true, strict: true }))
  } catch (e) {
    const err = e as Error & { code?: string }
    const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? ''
    const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(' ')[0] ?? quoted
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') fail(`unknown option '${option}'`)
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/does not take an argument/.test(err.message)) fail(`${option} takes no value`)
      if (/ambiguous/.test(err.message)) fail(`${option} needs a value (one that starts with '-' goes as ${option}=VALUE)`)
      fail(`${option} needs a value`)
    }
    throw e
  }
  if (values.help === true) return { kind: 'help', text: commandHelp(command) }
  const [min, max] = spec.positionals
  if (positionals.length > max) {
    fail(`unexpected argument '${positionals[max]}'${spec.after === 'no' ? '' : ': a command to run goes after --'}`)
  }
  if (positionals.length < min) fail('an argument is missing')
  if (after !== undefined && spec.after === 'no') fail('takes no command to run after --')
  if (after !== undefined && after.length === 0) fail('the command after -- is empty')
  if (spec.after === 'required' && after === undefined) {
    fail(`the command to measure goes after --, e.g. kprobecov ${command} --module mydrv -- ./test.sh`)
  }
  return { kind: 'command', parsed: { command, values, positionals, argv: after } }
}

// ---- typed options ----------------------------------------------------------------------------

export interface ModuleSpec {
  /** As lsmod shows it ('-' read as '_'), or 'vmlinux'. */
  name: string
  /** The .ko (or vmlinux), absolute; undefined: found with modinfo / under /lib/modules (vmlinux: vmlinuxCandidates). */
  object?: string
  /** vmlinux only (at least one of them): globs of source paths in the kernel tree, of function names. */
  sources?: string[]
  functions?: string[]
}

export interface LiveOptions {
  modules: ModuleSpec[]
  granularity: Granularity
  device: string
  root: string
  progress: boolean
}

export interface ReporterChoice {
  reporters: ReportType[]
}

const usage = (p: Parsed, message: string): UsageError =>
  new UsageError(`kprobecov ${p.command}: ${message} (${see(p.command)})`)

const str = (p: Parsed, name: string): string | undefined => {
  const v = p.values[name]
  return typeof v === 'string' ? v : undefined
}
const list = (p: Parsed, name: string): string[] => {
  const v = p.values[name]
  return Array.isArray(v) ? v : []
}
const flag = (p: Parsed, name: string): boolean => p.values[name] === true

/** A whole number in [min, max]; `what` says what it is for. */
function int(p: Parsed, name: string, min: number, max: number, fallback: number): number {
  const v = str(p, name)
  if (v === undefined) return fallback
  const n = /^\d+$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`
    throw usage(p, `--${name} must be a whole number ${range}, not '${v}'`)
  }
  return n
}

function oneOf<T extends string>(p: Parsed, name: string, choices: readonly T[], fallback: T): T {
  const v = str(p, name)
  if (v === undefined) return fallback
  if (!(choices as readonly string[]).includes(v)) {
    throw usage(p, `--${name} must be ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, not '${v}'`)
  }
  return v as T
}

const resolveIn = (cwd: string, p: string): string => path.resolve(cwd, p)

/** --module NAME[=PATH.ko]..., and --sources / --functions for --module vmlinux[=PATH]. */
export function moduleSpecs(p: Parsed, cwd: string): ModuleSpec[] {
  const specs: ModuleSpec[] = []
  for (const m of list(p, 'module')) {
    const eq = m.indexOf('=')
    const name = (eq < 0 ? m : m.slice(0, eq)).replaceAll('-', '_')
    const object = eq < 0 ? undefined : m.slice(eq + 1)
    if (!/^[A-Za-z0-9_]+$/.test(name) || object === '') {
      throw usage(p, `--module wants NAME or NAME=PATH.ko, not '${m}'`)
    }
    if (specs.some((s) => s.name === name)) throw usage(p, `--module ${name} is given twice`)
    specs.push(object === undefined ? { name } : { name, object: resolveIn(cwd, object) })
  }
  const globs = { sources: list(p, 'sources'), functions: list(p, 'functions') }
  for (const [option, given] of Object.entries(globs)) {
    if (given.includes('')) throw usage(p, `--${option} needs a glob, e.g. --sources 'fs/ext4/**' or --functions '__x64_sys_*'`)
  }
  const vmlinux = specs.find((s) => s.name === VMLINUX)
  if (vmlinux === undefined) {
    const option = globs.sources.length > 0 ? 'sources' : globs.functions.length > 0 ? 'functions' : undefined
    if (option !== undefined) throw usage(p, `--${option} chooses built-in code: it goes with --module vmlinux (a module is measured whole)`)
    return specs
  }
  if (globs.sources.length === 0 && globs.functions.length === 0) {
    throw usage(p, `--module vmlinux needs --sources GLOB or --functions GLOB, e.g. --sources 'fs/ext4/**': all of the kernel is too many probes`)
  }
  if (globs.sources.length > 0) vmlinux.sources = globs.sources
  if (globs.functions.length > 0) vmlinux.functions = globs.functions
  return specs
}

export function liveOptions(p: Parsed, cwd: string): LiveOptions {
  const modules = moduleSpecs(p, cwd)
  if (modules.length === 0) throw usage(p, '--module is required, e.g. --module mydrv=path/to/mydrv.ko')
  return {
    modules,
    granularity: oneOf(p, 'granularity', GRANULARITIES, DEFAULT_GRANULARITY),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
    root: resolveIn(cwd, str(p, 'root') ?? '.'),
    progress: flag(p, 'progress'),
  }
}

export function reporters(p: Parsed): ReportType[] {
  const given = list(p, 'reporter').flatMap((r) => r.split(',')).filter((r) => r !== '')
  for (const r of given) {
    if (!(REPORTERS as readonly string[]).includes(r)) throw usage(p, `unknown reporter '${r}': use one of ${REPORTERS.join(', ')}`)
  }
  return given.length > 0 ? [...new Set(given)] as ReportType[] : [...DEFAULT_REPORTERS]
}

export const outDir = (p: Parsed, cwd: string): string => resolveIn(cwd, str(p, 'out') ?? DEFAULT_OUT)

export interface RunOptions extends LiveOptions, ReporterChoice {
  out: string
  callers: boolean
  edgeBits: number
  /** undefined: not given ($KPROBECOV_BACKEND, else auto). */
  backend: CliBackend | undefined
  kcovBuffer: number
  command: string[]
}

export function runOptions(p: Parsed, cwd: string): RunOptions {
  const backend = str(p, 'backend') === undefined ? undefined : oneOf(p, 'backend', BACKENDS, DEFAULT_BACKEND)
  if (backend === 'kcov') {
    if (flag(p, 'callers')) throw usage(p, '--callers needs --backend kprobe: KCOV does not record callers')
    if (str(p, 'edge-bits') !== undefined) throw usage(p, '--edge-bits needs --backend kprobe: KCOV does not count edges')
  }
  if (backend === 'kprobe' && str(p, 'kcov-buffer') !== undefined) throw usage(p, '--kcov-buffer is for --backend kcov')
  const live = liveOptions(p, cwd)
  if (backend === 'kcov' && live.modules.some((m) => m.name === VMLINUX)) {
    throw usage(p, '--module vmlinux is measured with kprobes: use --backend kprobe (KCOV maps loadable modules only)')
  }
  return {
    ...live,
    out: outDir(p, cwd),
    reporters: reporters(p),
    callers: flag(p, 'callers'),
    edgeBits: int(p, 'edge-bits', 0, MAX_EDGE_BITS, DEFAULT_EDGE_BITS),
    backend,
    kcovBuffer: int(p, 'kcov-buffer', MIN_KCOV_BUFFER, MAX_KCOV_BUFFER, DEFAULT_KCOV_BUFFER),
    command: p.argv!,
  }
}

/** The backend a run uses: the option, else $KPROBECOV_BACKEND, else auto. UsageError for a bad variable. */
export function backendOf(o: Pick<RunOptions, 'backend'>, env: Record<string, string | undefined>): CliBackend {
  if (o.backend !== undefined) return o.backend
  const v = env[BACKEND_ENV]
  if (v === undefined || v === '') return DEFAULT_BACKEND
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new UsageError(`kprobecov run: ${BACKEND_ENV} must be kprobe, kcov or auto, not '${v}'`)
  }
  return v as CliBackend
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

export interface ReportOptions extends ReporterChoice {
  out: string
  root: string | undefined
}

export function reportOptions(p: Parsed, cwd: string): ReportOptions {
  const root = str(p, 'root')
  return { out: outDir(p, cwd), reporters: reporters(p), root: root === undefined ? undefined : resolveIn(cwd, root) }
}

export interface MergeOptions extends ReporterChoice {
  files: string[]
  out: string
  root: string
}

export function mergeOptions(p: Parsed, cwd: string): MergeOptions {
  if (p.positionals.length === 0) throw usage(p, 'no files to merge: kprobecov merge FILE... --out DIR')
  const out = str(p, 'out')
  if (out === undefined) throw usage(p, '--out is required: the directory the merged reports go to')
  return {
    files: p.positionals.map((f) => resolveIn(cwd, f)),
    out: resolveIn(cwd, out),
    reporters: reporters(p),
    root: resolveIn(cwd, str(p, 'root') ?? '.'),
  }
}

/** Where a query reads from: a run measured now, or a saved one. */
export type QueryTarget =
  | { kind: 'live'; live: LiveOptions; command: string[] | undefined }
  | { kind: 'saved'; out: string }

export function queryTarget(p: Parsed, cwd: string): QueryTarget {
  if (list(p, 'module').length > 0) {
    if (str(p, 'out') !== undefined) throw usage(p, 'give --module (measure now) or --out (a saved run), not both')
    return { kind: 'live', live: liveOptions(p, cwd), command: p.argv }
  }
  moduleSpecs(p, cwd) // --sources / --functions without --module vmlinux
  for (const live of ['granularity', 'device', 'progress', 'edge-bits'] as const) {
    if (p.values[live] !== undefined) throw usage(p, `--${live} needs --module: it is for measuring now, not for a saved run`)
  }
  if (p.argv !== undefined) throw usage(p, 'a command to run needs --module: the module to measure')
  return { kind: 'saved', out: outDir(p, cwd) }
}

export interface StatusOptions {
  target: QueryTarget
  probes: boolean
}

export function statusOptions(p: Parsed, cwd: string): StatusOptions {
  return { target: queryTarget(p, cwd), probes: flag(p, 'probes') }
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

export interface CallersOptions {
  target: QueryTarget
  func: string
}

export function callersOptions(p: Parsed, cwd: string): CallersOptions {
  const func = p.positionals[0]
  if (func === undefined) throw usage(p, 'which function? kprobecov callers FUNC')
  return { target: queryTarget(p, cwd), func }
}

export interface PathsOptions {
  target: QueryTarget
  dot: boolean
  edgeBits: number
}

export function pathsOptions(p: Parsed, cwd: string): PathsOptions {
  return {
    target: queryTarget(p, cwd),
    dot: flag(p, 'dot'),
    edgeBits: int(p, 'edge-bits', 1, MAX_EDGE_BITS, DEFAULT_EDGE_BITS),
  }
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

export interface DoctorOptions {
  modules: ModuleSpec[]
  device: string
  granularity: Granularity
}

export function doctorOptions(p: Parsed, cwd: string): DoctorOptions {
  return {
    modules: moduleSpecs(p, cwd),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
    granularity: oneOf(p, 'granularity', GRANULARITIES, DEFAULT_GRANULARITY),
  }
}

export const MODULE_ACTIONS = ['build', 'load', 'unload', 'status', 'dkms'] as const
export type ModuleAction = (typeof MODULE_ACTIONS)[number]

export interface ModuleOptions {
  action: ModuleAction
  kdir: string | undefined
  rebuild: boolean
  reload: boolean
  params: string[]
  group: string | undefined
  device: string
}

export function moduleOptions(p: Parsed, cwd: string): ModuleOptions {
  const action = p.positionals[0] ?? ''
  if (!(MODULE_ACTIONS as readonly string[]).includes(action)) {
    throw usage(p, `unknown action '${action}': use one of ${MODULE_ACTIONS.join(', ')}`)
  }
  const params = list(p, 'param')
  for (const param of params) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=\S*$/.test(param)) throw usage(p, `--param wants NAME=VALUE, e.g. --param dev_mode=0660, not '${param}'`)
  }
  const kdir = str(p, 'kdir')
  return {
    action: action as ModuleAction,
    kdir: kdir === undefined ? undefined : resolveIn(cwd, kdir),
    rebuild: flag(p, 'rebuild'),
    reload: flag(p, 'reload'),
    params,
    group: str(p, 'group'),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
  }
}
