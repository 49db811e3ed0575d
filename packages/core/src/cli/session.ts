/**
 * A measurement the CLI makes now: a backend (session/backend.ts) opened on
 * the --module records, in the CLI's naming and wording, started (kprobe:
 * planted and armed), a command run counted — started held, followed,
 * released — and what was counted read back as RunData. Closing the session
 * closes the backend (the kernel removes every probe). What only kprobes do
 * (callers, edges, trace, hits as they come) goes through `collector`.
 */
import type { Collector } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import type { Granularity, Plan } from '../plan/types.ts'
import { reportPath } from '../coverage/paths.ts'
import type { Backend, BackendName, CommandSample } from '../session/backend.ts'
import { KcovBackend } from '../session/kcov.ts'
import { KprobeBackend } from '../session/kprobe.ts'
import type { SessionModule, TargetModule } from '../session/modules.ts'
import { openBackend } from '../session/open.ts'
import type { RefusalWording } from '../session/plant.ts'
import type { ModuleSpec } from './args.ts'
import type { CliIO, Progress, SystemSetup } from './io.ts'
import { CLI_NAMING } from './naming.ts'
import type { CallerRow, CallersOf, ModuleRecord, RunData } from './record.ts'
import { checkCommand, shieldSignals, spawnHeld, type HeldCommand } from './spawn.ts'

export interface SessionOptions {
  modules: ModuleSpec[]
  granularity: Granularity
  root: string
  system: SystemSetup
  progress: Progress
  /** Default 'kprobe'. */
  backend?: BackendName
  /** kprobe: the device. */
  device?: string
  /** kprobe: record callers of function probes. */
  callers?: boolean
  /** kprobe: log2 of edge counters; 0: none. */
  edgeBits?: number
  /** kprobe: trace capacity; 0: no trace. */
  traceEntries?: number
  /** KCOV: records per thread buffer. */
  kcovBuffer?: number
  /** The command that will run: checked first, so a typo fails before probes are planted. */
  command?: readonly string[] | undefined
  io?: CliIO
}

export interface CommandHooks {
  /** Runs after the command is followed, before it is released (e.g. traceStart of its pid). */
  beforeRelease?: (pid: number) => void
  /** Runs while the command does; its end is awaited with the command's. */
  whileRunning?: (cmd: HeldCommand) => Promise<void>
}

/** The CLI's records of the modules to measure: one granularity for all; a module may be loaded by the command. */
export const sessionModules = (specs: readonly ModuleSpec[], granularity: Granularity): SessionModule[] =>
  specs.map((m) => ({ ...m, granularity, loadedByTests: false }))

/** How the CLI words the notes and warnings on probes that will not count (see tellRefused). */
export const CLI_REFUSALS: RefusalWording = {
  initHint: 'reload it in the command to cover module_init: they are planted when it loads',
  notDone: 'not planted',
  listHint: 'kprobecov status --probes lists them',
}

/** KCOV's map leaves out the __init code of a module loaded before: reloading it in the command is not enough. */
export const KCOV_REFUSALS: RefusalWording = {
  ...CLI_REFUSALS, initHint: 'unload it before the command, and load it in the command, to cover module_init', notDone: 'not measured',
}

/** The CLI's options of a backend: its naming, wording and the progress it draws. */
export const cliBackendOptions = (options: SessionOptions, name: BackendName) => ({
  modules: sessionModules(options.modules, options.granularity),
  root: options.root,
  system: options.system,
  naming: CLI_NAMING,
  progress: options.progress.on,
  refusals: name === 'kcov' ? KCOV_REFUSALS : CLI_REFUSALS,
  // A mistake in --module is told before a missing device.
  deviceLast: true,
  ...(options.device !== undefined ? { device: options.device } : {}),
  callers: options.callers ?? false,
  edgeBits: options.edgeBits ?? 0,
  traceEntries: options.traceEntries ?? 0,
  kcov: options.kcovBuffer !== undefined ? { buffer: options.kcovBuffer } : {},
})

/**
 * Runs argv counted by `backend` (its environment; followed while held, so
 * none of its kernel code runs before), with its threads and children.
 * Resolves with its exit status; counting stops then.
 */
export async function runCounted(backend: Backend, argv: readonly string[], io: CliIO, progress: Progress, hooks: CommandHooks = {}): Promise<number> {
  const cmd = spawnHeld(argv, { ...io, env: backend.commandEnv(io.env) })
  let released = false
  try {
    backend.follow(cmd.pid)
    hooks.beforeRelease?.(cmd.pid)
    progress.clear()
    cmd.release()
    released = true
  } finally {
    if (!released) cmd.kill('SIGKILL')
  }
  const watching = hooks.whileRunning
  const status = await shieldSignals(cmd, () =>
    watching ? Promise.all([cmd.exited, watching(cmd)]).then(([s]) => s) : cmd.exited)
  backend.unfollow()
  return status
}

export class Session {
  readonly backend: Backend
  readonly root: string
  readonly #options: SessionOptions
  #command: string[] | undefined
  #exitStatus: number | undefined
  #sample: CommandSample | undefined

  private constructor(options: SessionOptions, backend: Backend) {
    this.#options = options
    this.backend = backend
    this.root = options.root
  }

  get plan(): Plan {
    return this.backend.plan
  }

  get modules(): readonly TargetModule[] {
    return this.backend.modules
  }

  /** The kprobe backend's collector (callers, edges, trace, hits as they come). */
  get collector(): Collector {
    if (!(this.backend instanceof KprobeBackend)) throw new KprobecovError('EINVAL', `the ${this.backend.name} backend has no collector`)
    return this.backend.collector
  }

  /** Reads, checks and plans the modules, then starts the backend (kprobe: plants and arms every probe). */
  static open(options: SessionOptions): Session {
    if (options.command !== undefined && options.io !== undefined) checkCommand(options.command, options.io)
    const name = options.backend ?? 'kprobe'
    const backend = openBackend(name, cliBackendOptions(options, name))
    try {
      backend.start()
      return new Session(options, backend)
    } catch (e) {
      backend.close()
      throw e
    }
  }

  /** Runs argv counted (see runCounted). */
  async runCommand(argv: readonly string[], io: CliIO, hooks: CommandHooks = {}): Promise<number> {
    if (this.#command !== undefined) throw new KprobecovError('EBUSY', 'this session ran a command already')
    this.#command = [...argv]
    this.#exitStatus = await runCounted(this.backend, argv, io, this.#options.progress, hooks)
    return this.#exitStatus
  }

  /** kprobe: counts without a command (watch: a pid and its children, or every task). */
  attach(pid: number | undefined): void {
    const kprobe = this.backend as KprobeBackend
    if (pid === undefined) kprobe.followAll()
    else kprobe.follow(pid)
  }

  /** Stops counting (watch). */
  detach(): void {
    this.backend.unfollow()
  }

  /** What was counted, read now (see Backend.sample); the sample's notes in `lastSample`. */
  snapshot(): RunData {
    const sample = (this.#sample = this.backend.sample())
    const { state, error } = this.backend.snapshot()
    const { counts } = sample
    const run: RunData = {
      plan: this.plan,
      root: this.root,
      modules: this.modules.map((m): ModuleRecord => ({ name: m.name, object: m.object, buildId: m.debugInfo.buildId, loaded: m.loaded })),
      command: this.#command,
      exitStatus: this.#exitStatus,
      counts,
      state,
      error,
      callers: undefined,
      edges: undefined,
    }
    if (this.backend instanceof KcovBackend) run.backend = 'kcov'
    if (!(this.backend instanceof KprobeBackend)) return run
    if (this.#options.callers) {
      run.callers = new Map()
      for (const fn of this.plan.functions) {
        if (fn.entryProbe === undefined || (counts[fn.entryProbe] ?? 0n) === 0n) continue
        run.callers.set(fn.entryProbe, this.callersOf(fn.entryProbe))
      }
    }
    const bits = this.#options.edgeBits ?? 0
    const slot = this.backend.slot
    if (bits > 0 && slot !== undefined) {
      const edges = this.collector.readEdges(slot)
      const nonZero = new Map<number, number>()
      edges.forEach((c, bucket) => {
        if (c !== 0) nonZero.set(bucket, c)
      })
      run.edges = { bits, counts: nonZero }
    }
    return run
  }

  /** The notes of the last snapshot's sample (KCOV: unknown PCs, full buffers). */
  get lastSample(): CommandSample | undefined {
    return this.#sample
  }

  /** The callers of a function-entry probe, from the kernel, with their source lines. */
  callersOf(probe: number): CallersOf {
    const c = this.collector.callers(probe)
    return {
      overflow: c.overflow,
      callers: c.callers.map((r): CallerRow => {
        const source = callerSource(r.symbol, this.modules, this.root)
        return source === undefined ? { symbol: r.symbol, calls: r.calls } : { symbol: r.symbol, calls: r.calls, source }
      }),
    }
  }

  close(): void {
    this.backend.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/**
 * "func+0x1a/0x40 [module]" (a return address) → the source line of the call
 * before it, when the module is measured: the last line row at or before the
 * return address - 1 (inside the call instruction).
 */
export function callerSource(symbol: string, modules: readonly TargetModule[], root: string): string | undefined {
  const m = /^([^\s+]+)\+0x([0-9a-f]+)\/0x[0-9a-f]+(?: \[([^\]]+)\])?$/.exec(symbol)
  if (!m) return undefined
  const [, sym, off, mod] = m
  const target = modules.find((t) => t.name === (mod ?? 'vmlinux'))
  if (!target) return undefined
  const di = target.debugInfo
  const fn = di.functions.find((f) => f.symbol === sym)
  if (!fn) return undefined
  const at = parseInt(off!, 16) - 1
  let best: { file: number; line: number } | undefined
  for (let i = fn.firstLine; i < fn.firstLine + fn.nrLines; i++) {
    const row = di.lines[i]!
    if (row.offset > at) break
    if (row.line > 0 && row.file > 0) best = row
  }
  if (!best) return undefined
  return `${reportPath(di.files[best.file] ?? '', { root })}:${best.line}`
}
