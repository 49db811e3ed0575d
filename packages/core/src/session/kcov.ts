/**
 * The KCOV backend: nothing is planted; the plan's probes are mapped to the
 * modules' KCOV call sites (KcovMap: ENOKCOV for a module built without
 * KCOV's instrumentation; probes with no callback are blind, not counted).
 * Test workers trace themselves (kcov/worker.ts) with the map shared as a
 * file; a followed command traces itself through the preload library, and
 * its PCs are placed with the module addresses seen while it ran. Mode
 * 'cmp' records comparisons instead (no map): see comparisons().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULT_KCOV_BUFFER } from '../defaults.ts'
import { checkModuleMatches } from '../device/system.ts'
import { KprobecovError } from '../errors.ts'
import { placeComparisons, type ComparisonRecord } from '../kcov/comparisons.ts'
import { buildKcovMap, countSites, probeHits, type KcovMap, type SiteCounts, type TargetBases } from '../kcov/map.ts'
import { locatePreload, preloadEnv, readPreloadRecords, targetBases, type PreloadRecords } from '../kcov/preload.ts'
import type { KcovShared } from '../kcov/shared.ts'
import { DEFAULT_KCOV, kaslrOffset, moduleSectionBases } from '../kcov/system.ts'
import { KcovTracer, type KcovMode } from '../kcov/tracer.ts'
import { ProbeState, kindStateBits } from '../native/abi.ts'
import type { Plan } from '../plan/types.ts'
import type { Backend, BackendOptions, CommandSample, ProbeStates } from './backend.ts'
import { planModules, prepareModules, type TargetModule } from './modules.ts'
import { initGoneProbes, tellRefused, type FailedProbe } from './plant.ts'

const { ENOENT, EOPNOTSUPP } = constants.errno
/** How often the modules' addresses are read while a followed command runs. */
const BASES_MS = 50

export class KcovBackend implements Backend {
  readonly name = 'kcov'
  readonly armsInBackground = false
  readonly plan: Plan
  readonly modules: TargetModule[]
  /** undefined in mode 'cmp'. */
  readonly map: KcovMap | undefined
  readonly #options: BackendOptions
  readonly #mode: KcovMode
  readonly #kaslr: bigint
  /** Blind probes on __init code that ran before (reported ENOENT, as kprobes would). */
  readonly #initGone: FailedProbe[]
  /** The followed command's records, and the map shared with test workers. */
  #dir: string | undefined
  /** Every distinct set of module addresses seen (the last one first), per module. */
  #bases: TargetBases[] = []
  #timer: ReturnType<typeof setInterval> | undefined
  #records: PreloadRecords | undefined
  #sample: CommandSample | undefined

  private constructor(options: BackendOptions, mode: KcovMode, modules: TargetModule[], plan: Plan, map: KcovMap | undefined, kaslr: bigint) {
    this.#options = options
    this.#mode = mode
    this.modules = modules
    this.plan = plan
    this.map = map
    this.#kaslr = kaslr
    this.#initGone = map ? initGoneProbes(plan, modules, map.blind) : []
  }

  /**
   * Checks that KCOV can be opened here (root, debugfs; for 'cmp' that the
   * kernel records comparisons; for test workers tracing children, the
   * preload library), reads, checks and plans the modules, maps the plan.
   * Throws KprobecovError naming the fix.
   */
  static open(mode: KcovMode, options: BackendOptions): KcovBackend {
    const tracer = KcovTracer.open(mode, options.kcov?.path ?? DEFAULT_KCOV)
    try {
      // Enabling, not only opening, tells whether this kernel records comparisons.
      if (mode === 'cmp') tracer.enableThisThread(1)
    } finally {
      tracer.close()
    }
    if (options.kcov?.children) locatePreload()
    const modules = prepareModules(options.modules, { system: options.system, progress: options.progress, ...(options.naming ? { naming: options.naming } : {}) })
    options.checkModules?.(modules)
    const plan = planModules(modules, { root: options.root, ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}) }, options.progress)
    // A module loaded before, and not loaded again by the code under test, ran its module_init then: that code is gone.
    const map = mode === 'pc'
      ? buildKcovMap(plan, modules.map((m) => ({ debugInfo: m.debugInfo, object: m.object, initFreed: m.loaded !== 'not-loaded' && !m.loadedByTests })))
      : undefined
    return new KcovBackend(options, mode, modules, plan, map, kaslrOffset(options.system))
  }

  /**
   * Nothing to plant. Tells the blind probes on __init code that is gone;
   * returns every blind probe (ENOENT: that code is gone; EOPNOTSUPP: no
   * KCOV callback stands for it, its lines are not instrumented).
   */
  start(): FailedProbe[] {
    tellRefused(this.plan, this.modules, this.#initGone, this.#options.progress, this.#options.refusals)
    const gone = new Set(this.#initGone.map((f) => f.probe))
    return this.blind.map((probe) => ({ probe, error: gone.has(probe) ? -ENOENT : -EOPNOTSUPP }))
  }

  startInBackground(): Promise<FailedProbe[]> {
    return Promise.resolve(this.start())
  }

  /** Probes no KCOV callback stands for: their lines are not instrumented. */
  get blind(): readonly number[] {
    return this.map?.blind ?? []
  }

  #ownDir(): string {
    return (this.#dir ??= mkdtempSync(path.join(tmpdir(), 'kprobecov-kcov-')))
  }

  /** Writes the map for the workers; the token is KcovShared. */
  share(): string {
    if (!this.map) throw new KprobecovError('EINVAL', 'a comparison session has no map to share')
    const dir = this.#ownDir()
    const file = path.join(dir, 'map.json')
    writeFileSync(file, JSON.stringify(this.map))
    // Runners end their process without closing the run: the map goes then.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const k = this.#options.kcov ?? {}
    const shared: KcovShared = {
      backend: 'kcov', map: file, kaslr: this.#kaslr.toString(), path: k.path ?? DEFAULT_KCOV, buffer: k.buffer ?? DEFAULT_KCOV_BUFFER,
      threadPool: k.threadPool ?? true, children: k.children ?? true, modules: this.map.targets.map((t) => t.module), pid: process.pid,
    }
    return JSON.stringify(shared)
  }

  commandEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
    const k = this.#options.kcov ?? {}
    return preloadEnv({
      dir: this.#ownDir(), mode: this.#mode, buffer: k.buffer ?? DEFAULT_KCOV_BUFFER, kaslr: this.#kaslr,
      path: k.path ?? DEFAULT_KCOV, modules: this.modules.map((m) => m.name),
    }, base)
  }

  /** The command traces itself (commandEnv); meanwhile the modules' addresses are followed. */
  follow(_pid: number): void {
    if (this.#timer !== undefined || this.#records !== undefined) throw new KprobecovError('EBUSY', 'this session ran a command already')
    this.#readBases()
    this.#timer = setInterval(() => this.#readBases(), BASES_MS)
  }

  unfollow(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#readBases()
    this.#records = readPreloadRecords(this.#ownDir(), true)
  }

  #readBases(): void {
    const now = this.modules.map((m) => moduleSectionBases(m.name, m.debugInfo.sections.map((s) => s.name), this.#options.system))
    const key = (b: TargetBases) => b.map((m) => (m ? [...m].map(([k, v]) => `${k}=${v}`).join(',') : '-')).join(';')
    const k = key(now)
    this.#bases = [now, ...this.#bases.filter((b) => key(b) !== k)]
  }

  /** What the followed command's records say: overflowed buffers, processes that wrote. */
  get records(): PreloadRecords {
    if (!this.#records) throw new KprobecovError('EBUSY', 'no command has run yet')
    return this.#records
  }

  /**
   * Counts per probe: each process's PCs placed with the module addresses it
   * saw, else those this process saw while it ran. A module that was not
   * loaded before and is loaded now must be the planned .ko.
   */
  sample(): CommandSample {
    const map = this.map
    if (!map) throw new KprobecovError('EINVAL', 'a comparison session has no coverage: use comparisons()')
    for (const m of this.modules) {
      if (m.loaded === 'not-loaded') checkModuleMatches(m.debugInfo, { ...this.#options.system, allowNotLoaded: true })
    }
    const sites: SiteCounts = { counts: new Map(), unknown: 0, firstUnknown: undefined }
    for (const f of this.records.files) {
      countSites(map, f.pcs, [...f.bases.map((b) => targetBases(map.targets, b)), ...this.#bases], this.#kaslr, sites)
    }
    const counts = new BigUint64Array(this.plan.probes.length)
    for (const [probe, n] of probeHits(map, sites)) counts[probe] = n
    this.#sample = { counts, unknown: sites.unknown, firstUnknown: sites.firstUnknown, overflows: this.records.overflows }
    return this.#sample
  }

  /**
   * As kprobes would say it: blind probes failed (EOPNOTSUPP: not
   * instrumented; ENOENT: __init code gone), the others armed, and hit when
   * the last sample counted them.
   */
  snapshot(): ProbeStates {
    const blind = new Set(this.blind)
    const initGone = new Set(this.#initGone.map((f) => f.probe))
    const counts = this.#sample?.counts
    const state = new Uint32Array(this.plan.probes.length)
    const error = new Int32Array(this.plan.probes.length)
    this.plan.probes.forEach((p, i) => {
      const kind = kindStateBits(p.kind)
      if (blind.has(i)) {
        state[i] = ProbeState.FAILED | kind
        error[i] = initGone.has(i) ? -ENOENT : -EOPNOTSUPP
      } else {
        state[i] = ProbeState.REGISTERED | ProbeState.ARMED | ((counts?.[i] ?? 0n) > 0n ? ProbeState.HIT : 0) | kind
      }
    })
    return { state, error }
  }

  /**
   * The comparisons the command made in the modules (mode 'cmp'): each
   * process's placed with the module addresses it saw, else those this
   * process saw; equal ones (same place, operands) summed.
   */
  comparisons(): ComparisonRecord[] {
    const byModule = (b: Map<string, Map<string, bigint>>) => this.modules.map((m) => b.get(m.name))
    const sameAt = (c: { pc: bigint; size: number; constant: boolean; arg1: bigint; arg2: bigint }) => `${c.pc}:${c.size}:${c.constant}:${c.arg1}:${c.arg2}`
    const merged = new Map<string, ComparisonRecord>()
    for (const f of this.records.files) {
      let left = f.comparisons
      for (const bases of [...f.bases.map(byModule), ...this.#bases]) {
        if (left.length === 0) break
        const placed = placeComparisons(left, this.modules, bases, this.#kaslr)
        const done = new Set(placed.map(sameAt))
        left = left.filter((c) => !done.has(sameAt(c)))
        for (const p of placed) {
          const key = `${p.module}:${p.function}:${p.file}:${p.line}:${p.switch}:${p.size}:${p.constant}:${p.arg1}:${p.arg2}`
          const had = merged.get(key)
          if (had) had.count += p.count
          else merged.set(key, { ...p })
        }
      }
    }
    return [...merged.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line ||
      (a.arg1 < b.arg1 ? -1 : a.arg1 > b.arg1 ? 1 : a.arg2 < b.arg2 ? -1 : a.arg2 > b.arg2 ? 1 : 0)))
  }

  /** Removes the records' and the map's directory. Idempotent. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true })
  }
}
