/**
 * A measurement made now with KCOV instead of kprobes (`run --backend kcov`,
 * `cmp`): the modules' debug info read, checked and planned as a Session
 * does, nothing planted; the command runs with the preload library in its
 * environment (kcov/preload.ts), so that it, its threads and its children
 * trace themselves and write their records when they exit; where the
 * modules are loaded is read while it runs (it may load, unload and reload
 * them); then the records become RunData (coverage) or comparison records.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULT_KCOV_BUFFER } from '../defaults.ts'
import { checkModuleMatches } from '../device/system.ts'
import { KprobecovError } from '../errors.ts'
import { placeComparisons, type ComparisonRecord } from '../kcov/comparisons.ts'
import { buildKcovMap, countSites, probeHits, type KcovMap, type SiteCounts, type TargetBases } from '../kcov/map.ts'
import { preloadEnv, readPreloadRecords, targetBases, type PreloadRecords } from '../kcov/preload.ts'
import { DEFAULT_KCOV, kaslrOffset, moduleSectionBases } from '../kcov/system.ts'
import { KcovTracer, type KcovMode } from '../kcov/tracer.ts'
import { ProbeState, kindStateBits } from '../native/abi.ts'
import type { Granularity, Plan } from '../plan/types.ts'
import type { ModuleSpec } from './args.ts'
import type { CliIO, Output, Progress, SystemSetup } from './io.ts'
import type { ModuleRecord, RunData } from './record.ts'
import { initGoneProbes, planModules, prepareModules, tellFailed, type TargetModule } from './session.ts'
import { checkCommand, shieldSignals, spawnHeld } from './spawn.ts'

/** The map leaves out the __init code of a module loaded before: reloading it in the command is not enough. */
const KCOV_INIT_HINT = 'unload it before the command, and load it in the command, to cover module_init'

export interface KcovSessionOptions {
  mode: KcovMode
  modules: ModuleSpec[]
  granularity: Granularity
  root: string
  system: SystemSetup
  progress: Progress
  stderr: Output
  /** The KCOV file (default /sys/kernel/debug/kcov). */
  kcovPath?: string
  /** Records per main thread between drains. */
  buffer?: number
  command?: readonly string[] | undefined
  io?: CliIO
}

const { ENOENT, EOPNOTSUPP } = constants.errno
/** How often the modules' addresses are read while the command runs. */
const BASES_MS = 50

export class KcovSession {
  readonly plan: Plan
  readonly modules: TargetModule[]
  readonly root: string
  readonly map: KcovMap | undefined
  readonly #options: KcovSessionOptions
  readonly #kaslr: bigint
  readonly #dir: string
  /** Every distinct set of module addresses seen (the last one first), per module. */
  #bases: TargetBases[] = []
  #records: PreloadRecords | undefined
  #command: string[] | undefined
  /** Blind probes on __init code that ran before the command (reported ENOENT, as kprobes would). */
  readonly #initGone: Set<number>
  #exitStatus: number | undefined

  private constructor(options: KcovSessionOptions, modules: TargetModule[], plan: Plan, map: KcovMap | undefined, kaslr: bigint) {
    this.#options = options
    this.modules = modules
    this.plan = plan
    this.map = map
    this.root = options.root
    this.#kaslr = kaslr
    this.#initGone = new Set(map ? initGoneProbes(plan, modules, map.blind).map((f) => f.probe) : [])
    this.#dir = mkdtempSync(path.join(tmpdir(), 'kprobecov-kcov-run-'))
  }

  /** Checks KCOV (and comparisons, for mode 'cmp'), reads and plans the modules. Throws KprobecovError naming the fix. */
  static open(options: KcovSessionOptions): KcovSession {
    const { progress } = options
    if (options.command !== undefined && options.io !== undefined) checkCommand(options.command, options.io)
    const tracer = KcovTracer.open(options.mode, options.kcovPath ?? DEFAULT_KCOV)
    try {
      // Enabling, not only opening, tells whether this kernel records comparisons.
      if (options.mode === 'cmp') tracer.enableThisThread(1)
    } finally {
      tracer.close()
    }
    const modules = prepareModules(options.modules, options.system, progress)
    const plan = planModules(modules, () => options.granularity, { root: options.root }, progress)
    // A module loaded before the command ran its module_init then: that code is gone.
    const map = options.mode === 'pc'
      ? buildKcovMap(plan, modules.map((m) => ({ debugInfo: m.debugInfo, object: m.object, initFreed: m.loaded !== 'not-loaded' })))
      : undefined
    if (map) tellFailed(plan, modules, initGoneProbes(plan, modules, map.blind), progress, options.stderr, KCOV_INIT_HINT, 'not measured')
    return new KcovSession(options, modules, plan, map, kaslrOffset(options.system))
  }

  /** Runs argv traced (it, its threads, its children); resolves with its exit status. */
  async runCommand(argv: readonly string[], io: CliIO): Promise<number> {
    if (this.#command !== undefined) throw new KprobecovError('EBUSY', 'this session ran a command already')
    const env = preloadEnv({
      dir: this.#dir, mode: this.#options.mode, buffer: this.#options.buffer ?? DEFAULT_KCOV_BUFFER, kaslr: this.#kaslr,
      path: this.#options.kcovPath ?? DEFAULT_KCOV, modules: this.modules.map((m) => m.name),
    }, io.env)
    this.#command = [...argv]
    this.#readBases()
    const timer = setInterval(() => this.#readBases(), BASES_MS)
    try {
      const cmd = spawnHeld(argv, { ...io, env })
      this.#options.progress.clear()
      cmd.release()
      this.#exitStatus = await shieldSignals(cmd, () => cmd.exited)
    } finally {
      clearInterval(timer)
    }
    this.#readBases()
    this.#records = readPreloadRecords(this.#dir, true)
    return this.#exitStatus
  }

  #readBases(): void {
    const now = this.modules.map((m) => moduleSectionBases(m.name, m.debugInfo.sections.map((s) => s.name), this.#options.system))
    const key = (b: TargetBases) => b.map((m) => (m ? [...m].map(([k, v]) => `${k}=${v}`).join(',') : '-')).join(';')
    const k = key(now)
    this.#bases = [now, ...this.#bases.filter((b) => key(b) !== k)]
  }

  /** What the records say: overflowed buffers, processes that wrote. */
  get records(): PreloadRecords {
    if (!this.#records) throw new KprobecovError('EBUSY', 'no command has run yet')
    return this.#records
  }

  /**
   * The run as the kprobe backend's Session gives it: counts per probe (each
   * process's PCs placed with the module addresses it saw, else those this
   * process saw while it ran), probes no KCOV callback stands for as failed
   * (EOPNOTSUPP: their lines are not instrumented). A module that was not
   * loaded before the command and is loaded now must be the planned .ko.
   */
  snapshot(): { data: RunData; unknown: number; firstUnknown: string | undefined } {
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
    const { unknown, firstUnknown } = sites
    const blind = new Set(map.blind)
    const state = new Uint32Array(this.plan.probes.length)
    const error = new Int32Array(this.plan.probes.length)
    this.plan.probes.forEach((p, i) => {
      const kind = kindStateBits(p.kind)
      if (blind.has(i)) {
        state[i] = ProbeState.FAILED | kind
        error[i] = this.#initGone.has(i) ? -ENOENT : -EOPNOTSUPP
      } else {
        state[i] = ProbeState.REGISTERED | ProbeState.ARMED | (counts[i]! > 0n ? ProbeState.HIT : 0) | kind
      }
    })
    const data: RunData = {
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
      backend: 'kcov',
    }
    return { data, unknown, firstUnknown }
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

  /** Removes the records' directory. Idempotent. */
  close(): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
