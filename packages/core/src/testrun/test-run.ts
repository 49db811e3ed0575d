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
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createCoverageMapper, type CoverageMapper } from '../coverage/coverage-map.ts'
import type { SystemSetup } from '../device/system.ts'
import { KprobecovError } from '../errors.ts'
import { ProbeState } from '../native/abi.ts'
import type { Plan } from '../plan/types.ts'
import { Progress, type Output } from '../reports/progress.ts'
import type { Backend, BackendName } from '../session/backend.ts'
import { KprobeBackend } from '../session/kprobe.ts'
import type { TargetModule } from '../session/modules.ts'
import { openBackend } from '../session/open.ts'
import type { FailedProbe, RefusalWording } from '../session/plant.ts'
import { chooseBackend, type ResolvedKprobecovOptions } from './options.ts'
import { buildResults, type TestRunResults } from './results.ts'
import { addSample, type WorkerSample } from './sample.ts'
import { ARMED_ENV, signalWhenArmed } from './armed.ts'
import { COLLECTOR_ENV } from './worker.ts'

/** How a test suite hears of refused probes; it covers the module_init of a module loaded before it with loadedByTests. */
const REFUSALS: RefusalWording = {
  initHint: 'load it in the tests, with loadedByTests: true, to cover module_init',
  notDone: 'not planted',
  listHint: 'kprobecov status --probes lists them',
}

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
  readonly modules: readonly TargetModule[]
  readonly root: string
  /** The backend the run uses ('auto' resolved). */
  readonly backend: BackendName
  /** What the workers need: put it in their environment as COLLECTOR_ENV (see env). */
  readonly token: string
  /**
   * Settles when the probes are planted and armed (at once with KCOV);
   * rejects with the KprobecovError to end the run with (exitOnSetupError),
   * which the workers get through the armed signal too.
   */
  readonly armed: Promise<void>
  readonly #backend: Backend
  /** The armed signal's file (ARMED_ENV), for a backend that arms in the background. */
  readonly #signal: string | undefined
  /** Set when the probes are armed (it needs the ones that will not count). */
  #mapper: CoverageMapper | undefined
  /** Test file (relative to the root) → summed counts of its samples. */
  readonly #samples = new Map<string, BigUint64Array>()
  readonly #lostTasks = new Map<string, number>()
  /** KCOV: per test file, what its samples said that a user must hear. */
  readonly #kcovNotes = new Map<string, { overflows: number; unknown: number; firstUnknown?: string; poolError?: string }>()

  private constructor(backend: Backend, root: string, options: TestRunOptions, signal: string | undefined) {
    this.#backend = backend
    this.plan = backend.plan
    this.modules = backend.modules
    this.root = root
    this.backend = backend.name
    this.#signal = signal
    this.token = backend.share()
    const mapped = (failed: readonly FailedProbe[]): void => {
      this.#mapper = coverageMapper(options, this.plan, root, new Set(failed.map((f) => f.probe)))
    }
    if (signal === undefined) {
      mapped(backend.start())
      this.armed = Promise.resolve()
      return
    }
    this.armed = (async () => {
      const refused = await signalWhenArmed(signal, backend.startInBackground().then((failed) => {
        mapped(failed)
        return failed
      }))
      if (backend instanceof KprobeBackend) backend.tellRefused(refused)
    })()
    this.armed.catch(() => {}) // the front end listens; a run nobody waits for is not an unhandled rejection
  }

  /** The workers' environment: the collector token and, when arming goes on in the background, the armed signal's path. */
  get env(): Record<string, string> {
    return this.#signal === undefined ? { [COLLECTOR_ENV]: this.token } : { [COLLECTOR_ENV]: this.token, [ARMED_ENV]: this.#signal }
  }

  /**
   * Opens the backend (kprobe: the device first, then the modules read,
   * checked and planned, the collector sized; KCOV: KCOV checked, the plan
   * mapped to call sites). Returns once everything a user can get wrong is
   * checked; the kprobe backend plants and arms in the background (libuv's
   * pool) from there. Throws KprobecovError (one line naming the fix) before
   * anything runs: see exitOnSetupError.
   */
  static open(options: TestRunOptions): TestRun {
    const stderr = options.stderr ?? process.stderr
    const progress = new Progress(stderr, false)
    const root = path.resolve(options.root)
    const name = chooseBackend(options.backend, options.device, options.kcov.path)
    const backend = openBackend(name, {
      modules: options.modules, root, ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}),
      system: options.system ?? {}, progress: progress.on, refusals: name === 'kcov' ? { ...REFUSALS, notDone: 'not measured' } : REFUSALS,
      checkModules: mayBeMissing, device: options.device, slots: options.slots, kcov: options.kcov,
    })
    let signalDir: string | undefined
    try {
      if (!backend.armsInBackground) {
        const run = new TestRun(backend, root, options, undefined)
        progress.clear()
        return run
      }
      progress.clear()
      const dir = (signalDir = mkdtempSync(path.join(tmpdir(), 'kprobecov-armed-')))
      let failedToArm = false
      // Runners end their process without closing the run: the signal goes
      // then, unless it tells workers still starting why arming failed.
      process.once('exit', () => {
        if (!failedToArm) rmSync(dir, { recursive: true, force: true })
      })
      const run = new TestRun(backend, root, options, path.join(dir, 'armed'))
      run.armed.catch(() => {
        failedToArm = true
        backend.close()
      })
      return run
    } catch (e) {
      backend.close()
      if (signalDir !== undefined) rmSync(signalDir, { recursive: true, force: true })
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
    const { state } = this.#backend.snapshot()
    return state.reduce((n, s) => n + ((s & ProbeState.GONE) !== 0 ? 1 : 0), 0)
  }

  /** Closes the backend (the kernel removes every probe; KCOV's map is removed). Idempotent. */
  close(): void {
    this.#backend.close()
  }
}

/** The front ends' rule: a module must be loaded before the tests unless they load it (loadedByTests). */
function mayBeMissing(modules: readonly TargetModule[]): void {
  for (const m of modules) {
    if (m.loaded !== 'not-loaded' || m.loadedByTests) continue
    const ko = path.relative(process.cwd(), m.object) || m.object
    throw new KprobecovError('EMODULE_NOT_LOADED', `${m.name} is not loaded: load it before the tests (sudo insmod ${ko}), or give it loadedByTests: true if the tests load it`)
  }
}

function coverageMapper(options: TestRunOptions, plan: Plan, root: string, notCounted: ReadonlySet<number>): CoverageMapper {
  return createCoverageMapper(plan, (i) => notCounted.has(i), {
    root,
    ...(options.sourceRoot !== undefined ? { sourceRoot: options.sourceRoot } : {}),
    ...(options.include ? { include: options.include } : {}),
    ...(options.exclude ? { exclude: options.exclude } : {}),
    allowExternal: options.allowExternal ?? false,
  })
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
