/**
 * The main-process side of a test run with kernel coverage: the modules'
 * debug info read and checked against what is loaded, planned, and, with
 * the kprobe backend, planted and armed in one collector shared with the
 * runner's workers (token, see WorkerAttachment). open() returns once the
 * collector is sized; the probes are planted and armed in the background
 * (libuv's pool) while the runner starts its workers, which wait for the
 * armed signal (see armed.ts) before their first test file. With the KCOV backend
 * nothing is planted: the plan's KcovMap goes to the workers (a file named
 * in the token), which trace themselves. Then each test file's sample is
 * added as the runner reports it, and the results turned into coverage maps.
 *
 * State: open() [-> armed settles] -> addSample() ... [-> clearSamples() (watch rerun) -> addSample() ...]
 *        -> results() (once armed) -> close() (the kernel removes every probe)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createCoverageMapper, type CoverageMapper } from '../coverage/coverage-map.ts'
import { Collector } from '../device/collector.ts'
import { errnoName, KprobecovError } from '../errors.ts'
import { buildKcovMap } from '../kcov/map.ts'
import { locatePreload } from '../kcov/preload.ts'
import { kaslrOffset } from '../kcov/system.ts'
import { KcovTracer } from '../kcov/tracer.ts'
import type { KcovShared } from '../kcov/worker.ts'
import type { Plan } from '../plan/types.ts'
import { Progress, type Output, type SystemSetup } from '../cli/io.ts'
import { initGoneProbes, initProbe, planModules, plantProbesAsync, prepareModules, tellFailed, type TargetModule } from '../cli/session.ts'
import { ProbeState } from '../device/collector.ts'
import { chooseBackend, type ResolvedKprobecovOptions } from './options.ts'
import { buildResults, type TestRunResults } from './results.ts'
import { addSample, type WorkerSample } from './sample.ts'
import { ARMED_ENV, signalWhenArmed } from './armed.ts'
import { COLLECTOR_ENV } from './worker.ts'

/** How a test suite covers the module_init of a module loaded before it. */
const INIT_HINT = 'load it in the tests, with loadedByTests: true, to cover module_init'

export interface TestRunOptions extends ResolvedKprobecovOptions {
  /** Project root: report paths and test file names are relative to it. */
  root: string
  /** Globs over report paths of the kernel sources to keep / drop. */
  include?: string[]
  exclude?: string[]
  /** Keep kernel sources outside the root (headers' inline functions); default false. */
  allowExternal?: boolean
  /** Where progress and notes go (default: stderr, progress drawn on a terminal only). */
  stderr?: Output
  system?: SystemSetup
}

export class TestRun {
  readonly plan: Plan
  readonly modules: TargetModule[]
  readonly root: string
  /** The backend the run uses ('auto' resolved). */
  readonly backend: 'kprobe' | 'kcov'
  /** What the workers need: put it in their environment as COLLECTOR_ENV (see env). */
  readonly token: string
  /**
   * Settles when the probes are planted and armed (at once with KCOV);
   * rejects with the KprobecovError to end the run with (exitOnSetupError),
   * which the workers get through the armed signal too.
   */
  readonly armed: Promise<void>
  /** The kprobe backend: the armed signal's file (ARMED_ENV). */
  readonly #signal: string | undefined
  readonly #collector: Collector | undefined
  /** KCOV: the directory of the map file. */
  readonly #kcovDir: string | undefined
  /** Set when the probes are armed (it needs the ones the kernel refused). */
  #mapper: CoverageMapper | undefined
  /** Test file (relative to the root) → summed counts of its samples. */
  readonly #samples = new Map<string, BigUint64Array>()
  readonly #lostTasks = new Map<string, number>()
  /** KCOV: per test file, what its samples said that a user must hear. */
  readonly #kcovNotes = new Map<string, { overflows: number; unknown: number; firstUnknown?: string; poolError?: string }>()

  private constructor(plan: Plan, modules: TargetModule[], root: string,
    backend: { collector: Collector; signal: string; planted: (run: TestRun) => Promise<void> } | { kcovDir: string; token: string; mapper: CoverageMapper }) {
    this.plan = plan
    this.modules = modules
    this.root = root
    if ('collector' in backend) {
      this.backend = 'kprobe'
      this.#collector = backend.collector
      this.#kcovDir = undefined
      this.#signal = backend.signal
      this.token = backend.collector.share()
      this.armed = backend.planted(this)
      this.armed.catch(() => {}) // the front end listens; a run nobody waits for is not an unhandled rejection
    } else {
      this.backend = 'kcov'
      this.#collector = undefined
      this.#kcovDir = backend.kcovDir
      this.#signal = undefined
      this.token = backend.token
      this.#mapper = backend.mapper
      this.armed = Promise.resolve()
    }
  }

  /** The workers' environment: the collector token and, with kprobes, the armed signal's path. */
  get env(): Record<string, string> {
    return this.#signal === undefined ? { [COLLECTOR_ENV]: this.token } : { [COLLECTOR_ENV]: this.token, [ARMED_ENV]: this.#signal }
  }

  /** Throws KprobecovError (one line naming the fix) before anything runs: see exitOnSetupError. */
  static open(options: TestRunOptions): TestRun {
    const backend = chooseBackend(options.backend, options.device, options.kcov.path)
    return backend === 'kcov' ? TestRun.#openKcov(options) : TestRun.#openKprobe(options)
  }

  static #prepare(options: TestRunOptions, progress: Progress, system: SystemSetup): { modules: TargetModule[]; plan: Plan; root: string } {
    const root = path.resolve(options.root)
    const modules = prepareModules(options.modules.map(({ name, object, sources, functions }) => ({
      name, ...(object !== undefined ? { object } : {}), ...(sources !== undefined ? { sources } : {}), ...(functions !== undefined ? { functions } : {}),
    })), system, progress, 'options')
    modules.forEach((m, i) => {
      const spec = options.modules[i]!
      if (m.loaded !== 'not-loaded' || spec.loadedByTests) return
      const ko = path.relative(process.cwd(), m.object) || m.object
      throw new KprobecovError('EMODULE_NOT_LOADED', `${m.name} is not loaded: load it before the tests (sudo insmod ${ko}), or give it loadedByTests: true if the tests load it`)
    })
    const plan = planModules(
      modules, (i) => options.modules[i]!.granularity,
      { root, ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}) }, progress,
    )
    return { modules, plan, root }
  }

  static #coverageMapper(options: TestRunOptions, plan: Plan, root: string, notCounted: ReadonlySet<number>): CoverageMapper {
    return createCoverageMapper(plan, (i) => notCounted.has(i), {
      root,
      ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}),
      ...(options.include ? { include: options.include } : {}),
      ...(options.exclude ? { exclude: options.exclude } : {}),
      allowExternal: options.allowExternal ?? false,
    })
  }

  static #openKprobe(options: TestRunOptions): TestRun {
    const stderr = options.stderr ?? process.stderr
    const progress = new Progress(stderr, false)
    const system = options.system ?? {}
    // The device first: without it nothing else matters.
    const collector = Collector.open(options.device, system)
    let signalDir: string | undefined
    try {
      const { modules, plan, root } = TestRun.#prepare(options, progress, system)
      collector.init({ maxProbes: plan.probes.length, maxSlots: Math.min(options.slots, collector.limits.maxSlots) })
      progress.clear()
      // Everything a user can get wrong is checked by now: the kernel's
      // registration of the probes runs in the background from here.
      const dir = (signalDir = mkdtempSync(path.join(tmpdir(), 'kprobecov-armed-')))
      const signal = path.join(dir, 'armed')
      let failedToArm = false
      // Runners end their process without closing the run: the signal goes
      // then, unless it tells workers still starting why arming failed.
      process.once('exit', () => {
        if (!failedToArm) rmSync(dir, { recursive: true, force: true })
      })
      const planted = async (run: TestRun): Promise<void> => {
        try {
          const refused = await signalWhenArmed(signal, plantProbesAsync(collector, plan).then((failed) => {
            // A loaded module's __init symbols are gone (ENOENT): when the tests load
            // it again, kprobecov.ko plants those probes then, so they count.
            const refused = failed.filter((f) => !(errnoName(f.error) === 'ENOENT' && reloadedByTests(options, plan, modules, f.probe)))
            run.#mapper = TestRun.#coverageMapper(options, plan, root, new Set(refused.map((f) => f.probe)))
            return refused
          }))
          tellFailed(plan, modules, refused, progress, stderr, INIT_HINT)
        } catch (e) {
          failedToArm = true
          collector.close()
          throw e
        }
      }
      return new TestRun(plan, modules, root, { collector, signal, planted })
    } catch (e) {
      collector.close()
      if (signalDir !== undefined) rmSync(signalDir, { recursive: true, force: true })
      throw e
    }
  }

  /**
   * KCOV: checks that KCOV can be opened here (root, debugfs), plans, maps
   * the plan's probes to the modules' KCOV call sites (ENOKCOV for a module
   * built without KCOV's instrumentation) and writes the map for the workers.
   */
  static #openKcov(options: TestRunOptions): TestRun {
    const stderr = options.stderr ?? process.stderr
    const progress = new Progress(stderr, false)
    const system = options.system ?? {}
    KcovTracer.open('pc', options.kcov.path).close()
    if (options.kcov.children) locatePreload()
    const { modules, plan, root } = TestRun.#prepare(options, progress, system)
    const map = buildKcovMap(plan, modules.map((m, i) => ({
      debugInfo: m.debugInfo, object: m.object, initFreed: m.loaded !== 'not-loaded' && !options.modules[i]!.loadedByTests,
    })))
    const kaslr = kaslrOffset(system)
    tellFailed(plan, modules, initGoneProbes(plan, modules, map.blind), progress, stderr, INIT_HINT, 'not measured')
    progress.clear()
    const kcovDir = mkdtempSync(path.join(tmpdir(), 'kprobecov-kcov-'))
    const file = path.join(kcovDir, 'map.json')
    writeFileSync(file, JSON.stringify(map))
    // Runners end their process without closing the run: the map goes then.
    process.once('exit', () => rmSync(kcovDir, { recursive: true, force: true }))
    const shared: KcovShared = {
      backend: 'kcov', map: file, kaslr: kaslr.toString(), path: options.kcov.path, buffer: options.kcov.buffer,
      threadPool: options.kcov.threadPool, children: options.kcov.children, modules: map.targets.map((t) => t.module), pid: process.pid,
    }
    const mapper = TestRun.#coverageMapper(options, plan, root, new Set(map.blind))
    return new TestRun(plan, modules, root, { kcovDir, token: JSON.stringify(shared), mapper })
  }

  /** The test file's name in reports: relative to the root, '/'-separated. */
  testName(testFile: string): string {
    return path.relative(this.root, path.resolve(this.root, testFile)).split(path.sep).join('/')
  }

  /** Adds one worker's sample of a test file (a file run twice, e.g. retried, sums up). */
  addSample(testFile: string, sample: WorkerSample): void {
    const name = this.testName(testFile)
    let counts = this.#samples.get(name)
    if (!counts) this.#samples.set(name, (counts = new BigUint64Array(this.plan.probes.length)))
    addSample(counts, sample)
    if (sample.lostTasks > 0) this.#lostTasks.set(name, (this.#lostTasks.get(name) ?? 0) + sample.lostTasks)
    const k = sample.kcov
    if (k && (k.overflows > 0 || k.unknown > 0 || k.poolError !== undefined)) {
      const note = this.#kcovNotes.get(name) ?? { overflows: 0, unknown: 0 }
      note.overflows += k.overflows
      note.unknown += k.unknown
      if (k.firstUnknown !== undefined) note.firstUnknown ??= k.firstUnknown
      if (k.poolError !== undefined) note.poolError ??= k.poolError
      this.#kcovNotes.set(name, note)
    }
  }

  /**
   * One line per test file whose workers forked more than the module's
   * max_tasks could follow; with KCOV, per test file whose buffers filled up,
   * whose PCs did not match the .ko, or whose libuv pool was not traced.
   */
  lostTasksWarnings(): string[] {
    const lines = [...this.#lostTasks].map(([test, lost]) =>
      `kprobecov: ${test} started processes the kernel could not follow (${lost}): load kprobecov with a larger max_tasks`)
    for (const [test, n] of this.#kcovNotes) {
      if (n.overflows > 0) lines.push(`kprobecov: ${test}: a KCOV buffer filled up ${n.overflows} time(s) between drains: coverage after that is lost: give a larger kcov.buffer`)
      if (n.unknown > 0) lines.push(`kprobecov: ${test}: ${n.unknown} KCOV PC(s) in the measured modules are no KCOV call site of their .ko (first ${n.firstUnknown}): the loaded module is another build, or was reloaded elsewhere: point "object" at the .ko that is loaded`)
      if (n.poolError !== undefined) lines.push(`kprobecov: ${test}: libuv's thread pool is not traced (${n.poolError}): kernel work of asynchronous fs calls is missing from its coverage`)
    }
    return lines
  }

  /** Forgets the samples (a rerun in watch mode starts afresh). */
  clearSamples(): void {
    this.#samples.clear()
    this.#lostTasks.clear()
    this.#kcovNotes.clear()
  }

  /** The coverage of every test file and of them all, as plain JSON. Once armed: await armed first. */
  results(): TestRunResults {
    if (this.#mapper === undefined) throw new KprobecovError('ENOTARMED', 'results: the probes are not armed yet: await run.armed first')
    return buildResults(this.#mapper, this.#samples, this.plan.probes.length, this.root)
  }

  /** Probes the kernel marks gone (their module was unloaded while the run went on). */
  goneProbes(): number {
    if (!this.#collector) return 0
    const { state } = this.#collector.probeStatus()
    return state.reduce((n, s) => n + ((s & ProbeState.GONE) !== 0 ? 1 : 0), 0)
  }

  /** Closes the collector (the kernel removes every probe), or removes the KCOV map. Idempotent. */
  close(): void {
    this.#collector?.close()
    if (this.#kcovDir !== undefined) rmSync(this.#kcovDir, { recursive: true, force: true })
  }
}

/** Probe i is on the __init code of a module the tests load (again): it counts when they do. */
function reloadedByTests(options: TestRunOptions, plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  return options.modules[plan.probes[i]!.target]?.loadedByTests === true && initProbe(plan, modules, i)
}

/**
 * Ends a test runner's process on a setup error with the error's one line
 * (a KprobecovError names the fix) and exit status 1, before any test runs;
 * other errors are rethrown.
 */
export function exitOnSetupError(e: unknown): never {
  if (!(e instanceof KprobecovError)) throw e
  process.stderr.write(`kprobecov: ${e.message}\n`)
  process.exit(1)
}
