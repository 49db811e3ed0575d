/**
 * A measurement made now: the modules' debug info, checked against what is
 * loaded, planned into probes, planted in a collector of its own and armed;
 * then a command run attached (scope 'tree': it and its children), and what
 * the kernel counted read back as RunData. Closing the session closes the
 * collector, which removes every probe.
 */
import { constants } from 'node:os'
import type { DebugInfo } from '../debuginfo/types.ts'
import { Collector, type ProbeSpec } from '../device/collector.ts'
import { checkModuleMatches, moduleObjectPath, type ModuleMatch } from '../device/system.ts'
import { VMLINUX, vmlinuxObjectPath } from '../device/vmlinux.ts'
import { KprobecovError, errnoName } from '../errors.ts'
import { loadTargetDebugInfo } from '../native/target.ts'
import { planProbes } from '../plan/plan.ts'
import type { Granularity, Plan } from '../plan/types.ts'
import { reportPath, type PathOptions } from '../coverage/paths.ts'
import type { ModuleSpec } from './args.ts'
import type { CliIO, Output, Progress, SystemSetup } from './io.ts'
import type { CallerRow, CallersOf, ModuleRecord, RunData } from './record.ts'
import { checkCommand, shieldSignals, spawnHeld, type HeldCommand } from './spawn.ts'

export interface SessionOptions {
  modules: ModuleSpec[]
  granularity: Granularity
  root: string
  device: string
  system: SystemSetup
  progress: Progress
  /** Where notes go (probes the kernel refused). */
  stderr: Output
  /** Record callers of function probes. */
  callers?: boolean
  /** log2 of edge counters; 0: none. */
  edgeBits?: number
  /** Trace capacity; 0: no trace. */
  traceEntries?: number
  /** The command that will run: checked first, so a typo fails before probes are planted. */
  command?: readonly string[] | undefined
  io?: CliIO
}

export interface TargetModule {
  name: string
  object: string
  debugInfo: DebugInfo
  loaded: ModuleMatch
  /** vmlinux: the globs of the code to measure (see ModuleTarget). */
  sources?: string[]
  functions?: string[]
}

/**
 * Finds, reads and checks the object of each target (a module's .ko or
 * vmlinux). Throws KprobecovError naming the fix, the CLI's way (--module)
 * unless `wording` is 'options' (the front ends' `object`).
 */
export function prepareModules(
  specs: readonly ModuleSpec[], system: SystemSetup, progress: Progress, wording: 'cli' | 'options' = 'cli',
): TargetModule[] {
  return specs.map((spec) => {
    try {
      const object = spec.object ?? findObject(spec.name, system)
      progress.step(`reading the debug info of ${object}`)
      const debugInfo = loadTargetDebugInfo(spec.name, object, system.release)
      const loaded = checkModuleMatches(debugInfo, { ...system, allowNotLoaded: true })
      return { name: spec.name, object, debugInfo, loaded, ...globsOf(spec) }
    } catch (e) {
      throw wording === 'cli' ? cliFix(e, spec.name) : e
    }
  })
}

const globsOf = (spec: ModuleSpec): Pick<TargetModule, 'sources' | 'functions'> => ({
  ...(spec.sources !== undefined ? { sources: spec.sources } : {}),
  ...(spec.functions !== undefined ? { functions: spec.functions } : {}),
})

/** moduleObjectPath, vmlinux's too (the front ends' wording: see cliFix). */
export function findObject(name: string, system: SystemSetup): string {
  return name === VMLINUX ? vmlinuxObjectPath(system) : moduleObjectPath(name, system)
}

/** A KprobecovError whose fix is worded for the front ends' options, said the CLI's way. */
export function cliFix(e: unknown, name: string): unknown {
  if (!(e instanceof KprobecovError)) return e
  const message = e.message
    .replace(/: give the \.ko's path \(object\)$/, `: give its .ko: --module ${name}=PATH.ko`)
    .replace(/ or give its path \(object\)$/, ` or give its path: --module ${name}=PATH`)
    .replace(/: measure it as 'vmlinux' \(with sources\/functions globs\)$/, ': measure it with --module vmlinux and --sources GLOB (its files) or --functions GLOB')
  return message === e.message ? e : new KprobecovError(e.code, message, { ...(e.errno !== undefined ? { errno: e.errno } : {}), cause: e })
}

export interface CommandHooks {
  /** Runs after the command is attached, before it is released (e.g. traceStart of its pid). */
  beforeRelease?: (pid: number) => void
  /** Runs while the command does; its end is awaited with the command's. */
  whileRunning?: (cmd: HeldCommand) => Promise<void>
}

const BATCH = 4096
const { ENOENT } = constants.errno

/** The probes of the modules (granularity: of the i-th); ENODATA when there are none. */
export function planModules(
  modules: readonly TargetModule[], granularity: (i: number) => Granularity, paths: PathOptions, progress: Progress,
): Plan {
  progress.step('planning probes')
  const plan = planProbes(
    modules.map((m, i) => ({ target: { name: m.name, object: m.object, granularity: granularity(i), ...globsOf(m) }, debugInfo: m.debugInfo })),
    paths,
  )
  modules.forEach((m, i) => {
    if (m.name !== VMLINUX || plan.functions.some((f) => f.target === i)) return
    const globs = [...(m.sources ?? []).map((g) => `source ${g}`), ...(m.functions ?? []).map((g) => `function ${g}`)].join(', ')
    throw new KprobecovError('ENODATA', `no function of ${m.object} matches ${globs}: source globs match paths in the kernel tree (kernel/sys.c, fs/ext4/**), function globs the names of its functions`)
  })
  if (plan.probes.length === 0) {
    throw new KprobecovError('ENODATA', `no probes to plant: ${modules.map((m) => m.object).join(', ')} has no function with debug info`)
  }
  return plan
}

export interface FailedProbe {
  probe: number
  /** The kernel's -errno. */
  error: number
}

const specsOf = (plan: Plan): ProbeSpec[] => plan.probes.map((p) => ({
  module: plan.targets[p.target]!.module, symbol: p.symbol, offset: p.offset, kind: p.kind, group: p.function,
}))

/** Adds the plan's probes to an initialised collector, in batches, and arms them; returns the refused ones. */
export function plantProbes(collector: Collector, plan: Plan, progress: Progress): FailedProbe[] {
  const specs = specsOf(plan)
  const failed: FailedProbe[] = []
  for (let at = 0; at < specs.length; at += BATCH) {
    progress.count(`planting ${specs.length} probes`, at, specs.length)
    const r = collector.addProbes(specs.slice(at, at + BATCH))
    r.error.forEach((error, k) => {
      if (error !== 0) failed.push({ probe: at + k, error })
    })
  }
  progress.count(`planting ${specs.length} probes`, specs.length, specs.length)
  progress.step(`arming ${specs.length} probes`)
  collector.arm('all')
  return failed
}

/** What a collector does to plant in the background (a fake's too, in unit tests). */
export type AsyncPlanter = Pick<Collector, 'addProbesAsync' | 'armAsync'>

/**
 * plantProbes off the main thread (the collector's *Async calls run on
 * libuv's pool): adds every probe in one call, then arms them. The event
 * loop goes on meanwhile; no progress is drawn.
 */
export async function plantProbesAsync(collector: AsyncPlanter, plan: Plan): Promise<FailedProbe[]> {
  const r = await collector.addProbesAsync(specsOf(plan))
  const failed: FailedProbe[] = []
  r.error.forEach((error, k) => {
    if (error !== 0) failed.push({ probe: k, error })
  })
  await collector.armAsync('all')
  return failed
}

/** Whether probe i of plan is on __init code (.init.text: freed once module_init returned). */
export function initProbe(plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  const p = plan.probes[i]!
  const m = modules[p.target]
  if (!m) return false
  const fn = m.debugInfo.functions.find((f) => f.symbol === p.symbol)
  return fn !== undefined && m.debugInfo.sections[fn.section]?.init === true
}

/**
 * The blind probes of a KCOV map (kcov/map.ts) that are on the __init code of
 * a module loaded already, as the refusals kprobes would give for them (the
 * symbols are gone with the code: ENOENT).
 */
export function initGoneProbes(plan: Plan, modules: readonly TargetModule[], blind: readonly number[]): FailedProbe[] {
  return blind.filter((i) => initCodeGone(plan, modules, i)).map((probe) => ({ probe, error: -ENOENT }))
}

/** Probe i is on the __init code of a module loaded before: that code ran and was freed. */
function initCodeGone(plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  return initProbe(plan, modules, i) && modules[plan.probes[i]!.target]?.loaded !== 'not-loaded'
}

/**
 * Probes the kernel refused count as not instrumented. Those on the __init
 * code of a module loaded already are expected (that code is gone): a note
 * with progress on, ending with `initHint` (how the caller's user covers
 * module_init); any other refusal is worth a line on stderr. notDone: what
 * did not happen to them ('not measured' for KCOV, whose map leaves them out).
 */
export function tellFailed(
  plan: Plan, modules: readonly TargetModule[], failed: readonly FailedProbe[], progress: Progress, stderr: Output,
  initHint = 'reload it in the command to cover module_init: they are planted when it loads', notDone = 'not planted',
): void {
  if (failed.length === 0) return
  const init = failed.filter((f) => initCodeGone(plan, modules, f.probe))
  const other = failed.filter((f) => !initCodeGone(plan, modules, f.probe))
  if (init.length > 0) {
    const names = [...new Set(init.map((f) => plan.targets[plan.probes[f.probe]!.target]!.module))].join(', ')
    progress.note(`${init.length} probes on the __init code of ${names} are ${notDone}: it ran when the module loaded (${initHint})`)
  }
  if (other.length > 0) {
    const first = other[0]!
    const p = plan.probes[first.probe]!
    progress.clear()
    stderr.write(`kprobecov: the kernel refused ${other.length} of ${plan.probes.length} probes (first: ${p.symbol}+0x${p.offset.toString(16)}, ${errnoName(first.error)}): their lines are not counted (kprobecov status --probes lists them)\n`)
  }
}

export class Session {
  readonly plan: Plan
  readonly modules: TargetModule[]
  readonly collector: Collector
  readonly root: string
  readonly #options: SessionOptions
  #slot: number | undefined
  #command: string[] | undefined
  #exitStatus: number | undefined

  private constructor(options: SessionOptions, modules: TargetModule[], plan: Plan, collector: Collector) {
    this.#options = options
    this.modules = modules
    this.plan = plan
    this.collector = collector
    this.root = options.root
  }

  /** Reads, checks and plans the modules, then plants and arms every probe. */
  static open(options: SessionOptions): Session {
    const { progress } = options
    if (options.command !== undefined && options.io !== undefined) checkCommand(options.command, options.io)
    const modules = prepareModules(options.modules, options.system, progress)
    const plan = planModules(modules, () => options.granularity, { root: options.root }, progress)
    const collector = Collector.open(options.device, options.system)
    try {
      collector.init({
        maxProbes: plan.probes.length,
        maxSlots: 1,
        edgeBits: options.edgeBits ?? 0,
        traceEntries: options.traceEntries ?? 0,
        callers: options.callers ?? false,
      })
      const failed = plantProbes(collector, plan, progress)
      tellFailed(plan, modules, failed, progress, options.stderr)
      return new Session(options, modules, plan, collector)
    } catch (e) {
      collector.close()
      throw e
    }
  }

  /**
   * Runs argv attached (scope 'tree': it and the processes it forks),
   * started held so that none of its kernel code runs before. Resolves with
   * its exit status; counting stops then.
   */
  async runCommand(argv: readonly string[], io: CliIO, hooks: CommandHooks = {}): Promise<number> {
    if (this.#slot !== undefined) throw new KprobecovError('EBUSY', 'this session ran a command already')
    const cmd = spawnHeld(argv, io)
    this.#command = [...argv]
    let released = false
    try {
      this.#slot = this.collector.attach({ pid: cmd.pid, scope: 'tree', sampleId: BigInt(cmd.pid) })
      hooks.beforeRelease?.(cmd.pid)
      this.#options.progress.clear()
      cmd.release()
      released = true
    } finally {
      if (!released) cmd.kill('SIGKILL')
    }
    const watching = hooks.whileRunning
    const status = await shieldSignals(cmd, () =>
      watching ? Promise.all([cmd.exited, watching(cmd)]).then(([s]) => s) : cmd.exited)
    this.#exitStatus = status
    this.detach()
    return status
  }

  /** Attaches a slot without a command (watch: a pid, or every task). */
  attach(pid: number | undefined): number {
    this.#slot = this.collector.attach(pid === undefined ? { scope: 'global', sampleId: 0n } : { pid, scope: 'tree', sampleId: BigInt(pid) })
    return this.#slot
  }

  /** Stops counting (watch). */
  detach(): void {
    if (this.#slot === undefined) return
    try {
      this.collector.detach(this.#slot)
    } catch (e) {
      if (!(e instanceof KprobecovError && e.code === 'ENOENT')) throw e
    }
  }

  /**
   * What the kernel counted, read now. A module that was not loaded before
   * the command and is loaded now must be the .ko the plan was made from.
   */
  snapshot(): RunData {
    for (const m of this.modules) {
      if (m.loaded === 'not-loaded') checkModuleMatches(m.debugInfo, { ...this.#options.system, allowNotLoaded: true })
    }
    const status = this.collector.probeStatus()
    const counts = this.#slot === undefined ? new BigUint64Array(this.plan.probes.length) : this.collector.readCounters(this.#slot)
    const run: RunData = {
      plan: this.plan,
      root: this.root,
      modules: this.modules.map((m): ModuleRecord => ({ name: m.name, object: m.object, buildId: m.debugInfo.buildId, loaded: m.loaded })),
      command: this.#command,
      exitStatus: this.#exitStatus,
      counts,
      state: status.state,
      error: status.error,
      callers: undefined,
      edges: undefined,
    }
    if (this.#options.callers) {
      run.callers = new Map()
      for (const fn of this.plan.functions) {
        if (fn.entryProbe === undefined || (counts[fn.entryProbe] ?? 0n) === 0n) continue
        run.callers.set(fn.entryProbe, this.callersOf(fn.entryProbe))
      }
    }
    const bits = this.#options.edgeBits ?? 0
    if (bits > 0 && this.#slot !== undefined) {
      const edges = this.collector.readEdges(this.#slot)
      const nonZero = new Map<number, number>()
      edges.forEach((c, bucket) => {
        if (c !== 0) nonZero.set(bucket, c)
      })
      run.edges = { bits, counts: nonZero }
    }
    return run
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
    this.collector.close()
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
