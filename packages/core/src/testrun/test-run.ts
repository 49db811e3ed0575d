/**
 * The main-process side of a test run with kernel coverage: the modules'
 * debug info read and checked against what is loaded, planned, planted and
 * armed in one collector, shared with the runner's workers (token, see
 * WorkerAttachment); then each test file's sample added as the runner
 * reports it, and the results turned into coverage maps.
 *
 * State: open() -> addSample() ... [-> clearSamples() (watch rerun) -> addSample() ...]
 *        -> results() (any time) -> close() (the kernel removes every probe)
 */
import path from 'node:path'
import { createCoverageMapper, type CoverageMapper } from '../coverage/coverage-map.ts'
import { Collector } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import type { Plan } from '../plan/types.ts'
import { Progress, type Output, type SystemSetup } from '../cli/io.ts'
import { planModules, plantProbes, prepareModules, tellFailed, type TargetModule } from '../cli/session.ts'
import { ProbeState } from '../device/collector.ts'
import type { ResolvedKprobecovOptions } from './options.ts'
import { buildResults, type TestRunResults } from './results.ts'
import { addSample, type WorkerSample } from './sample.ts'

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
  /** Collector.share()'s token: put it in the workers' environment as COLLECTOR_ENV. */
  readonly token: string
  readonly #collector: Collector
  readonly #mapper: CoverageMapper
  /** Test file (relative to the root) → summed counts of its samples. */
  readonly #samples = new Map<string, BigUint64Array>()
  readonly #lostTasks = new Map<string, number>()

  private constructor(plan: Plan, modules: TargetModule[], root: string, collector: Collector, mapper: CoverageMapper) {
    this.plan = plan
    this.modules = modules
    this.root = root
    this.#collector = collector
    this.#mapper = mapper
    this.token = collector.share()
  }

  /** Throws KprobecovError (one line naming the fix) before anything runs: see exitOnSetupError. */
  static open(options: TestRunOptions): TestRun {
    const stderr = options.stderr ?? process.stderr
    const progress = new Progress(stderr, false)
    const system = options.system ?? {}
    const root = path.resolve(options.root)
    // The device first: without it nothing else matters.
    const collector = Collector.open(options.device, system)
    try {
      const modules = prepareModules(options.modules.map((m) => (m.object === undefined ? { name: m.name } : { name: m.name, object: m.object })), system, progress)
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
      collector.init({ maxProbes: plan.probes.length, maxSlots: Math.min(options.slots, collector.limits.maxSlots) })
      const failed = plantProbes(collector, plan, progress)
      tellFailed(plan, modules, failed, progress, stderr, 'load it in the tests, with loadedByTests: true, to cover module_init')
      progress.clear()
      const refused = new Set(failed.map((f) => f.probe))
      const mapper = createCoverageMapper(plan, (i) => refused.has(i), {
        root,
        ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}),
        ...(options.include ? { include: options.include } : {}),
        ...(options.exclude ? { exclude: options.exclude } : {}),
        allowExternal: options.allowExternal ?? false,
      })
      return new TestRun(plan, modules, root, collector, mapper)
    } catch (e) {
      collector.close()
      throw e
    }
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
  }

  /** One line per test file whose workers forked more than the module's max_tasks could follow. */
  lostTasksWarnings(): string[] {
    return [...this.#lostTasks].map(([test, lost]) =>
      `kprobecov: ${test} started processes the kernel could not follow (${lost}): load kprobecov with a larger max_tasks`)
  }

  /** Forgets the samples (a rerun in watch mode starts afresh). */
  clearSamples(): void {
    this.#samples.clear()
    this.#lostTasks.clear()
  }

  /** The coverage of every test file and of them all, as plain JSON. */
  results(): TestRunResults {
    return buildResults(this.#mapper, this.#samples, this.plan.probes.length, this.root)
  }

  /** Probes the kernel marks gone (their module was unloaded while the run went on). */
  goneProbes(): number {
    const { state } = this.#collector.probeStatus()
    return state.reduce((n, s) => n + ((s & ProbeState.GONE) !== 0 ? 1 : 0), 0)
  }

  /** Closes the collector: the kernel removes every probe. Idempotent. */
  close(): void {
    this.#collector.close()
  }
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
