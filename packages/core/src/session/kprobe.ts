/**
 * The kprobe backend: kprobecov.ko plants the plan's probes in a collector
 * of this process (the device is opened first: without it nothing else
 * matters); a followed process is attached to slot 0 with scope 'tree', test
 * workers adopt the collector (Collector.share) and attach slots of their own.
 */
import { Collector, DEFAULT_DEVICE } from '../device/collector.ts'
import { KprobecovError, errnoName } from '../errors.ts'
import { checkModuleMatches } from '../device/system.ts'
import type { Plan } from '../plan/types.ts'
import type { Backend, BackendOptions, CommandSample, ProbeStates } from './backend.ts'
import { planModules, prepareModules, type TargetModule } from './modules.ts'
import { plantProbes, plantProbesAsync, reloadedInit, tellRefused, type FailedProbe } from './plant.ts'

export class KprobeBackend implements Backend {
  readonly name = 'kprobe'
  readonly armsInBackground = true
  readonly plan: Plan
  readonly modules: TargetModule[]
  /** The collector, for what only kprobes do (callers, edges, trace, hits as they come). */
  readonly collector: Collector
  readonly #options: BackendOptions
  #slot: number | undefined

  private constructor(options: BackendOptions, modules: TargetModule[], plan: Plan, collector: Collector) {
    this.#options = options
    this.modules = modules
    this.plan = plan
    this.collector = collector
  }

  /** Opens the device, reads, checks and plans the modules, sizes the collector. Throws KprobecovError naming the fix. */
  static open(options: BackendOptions): KprobeBackend {
    const device = options.device ?? DEFAULT_DEVICE
    let collector = options.deviceLast ? undefined : Collector.open(device, options.system)
    try {
      const modules = prepareModules(options.modules, { system: options.system, progress: options.progress, ...(options.naming ? { naming: options.naming } : {}) })
      options.checkModules?.(modules)
      const plan = planModules(modules, { root: options.root, ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}) }, options.progress)
      collector ??= Collector.open(device, options.system)
      collector.init({
        maxProbes: plan.probes.length,
        maxSlots: Math.min(options.slots ?? 1, collector.limits.maxSlots),
        edgeBits: options.edgeBits ?? 0,
        traceEntries: options.traceEntries ?? 0,
        callers: options.callers ?? false,
      })
      return new KprobeBackend(options, modules, plan, collector)
    } catch (e) {
      collector?.close()
      throw e
    }
  }

  start(): FailedProbe[] {
    const failed = this.#countable(plantProbes(this.collector, this.plan, this.#options.progress))
    tellRefused(this.plan, this.modules, failed, this.#options.progress, this.#options.refusals)
    return failed
  }

  async startInBackground(): Promise<FailedProbe[]> {
    return this.#countable(await plantProbesAsync(this.collector, this.plan))
  }

  /** Refused probes, but those on __init code the code under test loads again: kprobecov.ko plants them then. */
  #countable(failed: FailedProbe[]): FailedProbe[] {
    return failed.filter((f) => !(errnoName(f.error) === 'ENOENT' && reloadedInit(this.plan, this.modules, f.probe)))
  }

  /** Tells the refusals startInBackground() returned (once the caller has acted on them). */
  tellRefused(failed: readonly FailedProbe[]): void {
    tellRefused(this.plan, this.modules, failed, this.#options.progress, this.#options.refusals)
  }

  share(): string {
    return this.collector.share()
  }

  commandEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
    return base
  }

  follow(pid: number): void {
    if (this.#slot !== undefined) throw new KprobecovError('EBUSY', 'this session follows a process already')
    this.#slot = this.collector.attach({ pid, scope: 'tree', sampleId: BigInt(pid) })
  }

  /** Counts every task (watch without a command or pid): slot 0 with scope 'global'. */
  followAll(): void {
    this.#slot = this.collector.attach({ scope: 'global', sampleId: 0n })
  }

  unfollow(): void {
    if (this.#slot === undefined) return
    try {
      this.collector.detach(this.#slot)
    } catch (e) {
      if (!(e instanceof KprobecovError && e.code === 'ENOENT')) throw e
    }
  }

  /** The slot followed, undefined before follow(). */
  get slot(): number | undefined {
    return this.#slot
  }

  /**
   * The followed process's counters. A module that was not loaded before
   * and is loaded now must be the .ko the plan was made from.
   */
  sample(): CommandSample {
    for (const m of this.modules) {
      if (m.loaded === 'not-loaded') checkModuleMatches(m.debugInfo, { ...this.#options.system, allowNotLoaded: true })
    }
    const counts = this.#slot === undefined ? new BigUint64Array(this.plan.probes.length) : this.collector.readCounters(this.#slot)
    return { counts, unknown: 0, firstUnknown: undefined, overflows: 0 }
  }

  snapshot(): ProbeStates {
    const { state, error } = this.collector.probeStatus()
    return { state, error }
  }

  close(): void {
    this.collector.close()
  }
}
