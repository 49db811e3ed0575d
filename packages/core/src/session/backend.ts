/**
 * A backend in the main process: how the plan's probes come to be counted.
 * It mirrors the worker side's Source (testrun/worker.ts, kcov/worker.ts):
 *
 *   open (the backend's own checks; modules read, checked, planned)
 *     -> start() or startInBackground() (kprobe: plant and arm; KCOV: nothing to plant)
 *     -> a counted process: commandEnv() before it starts, follow(pid) before it runs,
 *        unfollow() once it exited, sample() its counts;
 *        or test workers: share() is the token they adopt, each samples its files itself
 *     -> snapshot() (each probe's state) -> close()
 *
 * The CLI's commands and the front ends' TestRun use only this interface
 * (and kprobe's or KCOV's extras where a command is about that backend).
 * A backend is one file that implements it and registers in BACKEND_OPENERS.
 */
import type { SystemSetup } from '../device/system.ts'
import type { Naming } from '../naming.ts'
import type { Plan } from '../plan/types.ts'
import type { SessionModule, TargetModule } from './modules.ts'
import type { FailedProbe, RefusalWording } from './plant.ts'
import type { ProgressListener } from './progress.ts'

export type BackendName = 'kprobe' | 'kcov'

/** Each probe's state as ProbeState bits (with its kind) and the kernel's -errno for a failed one. */
export interface ProbeStates {
  state: Uint32Array
  error: Int32Array
}

/** What a followed process was counted for, and what its user must hear of it. */
export interface CommandSample {
  counts: BigUint64Array
  /** KCOV: PCs in the modules that are no call site of their .ko (another build). */
  unknown: number
  firstUnknown: string | undefined
  /** KCOV: buffers that filled up between drains. */
  overflows: number
}

export interface BackendOptions {
  /** The modules, each with every option the user gave for it. */
  modules: readonly SessionModule[]
  /** Report paths are relative to it; sourceRoot: where the sources are, if elsewhere. */
  root: string
  sourceRoot?: string
  system: SystemSetup
  /** How fixes name an object (default the front ends' options). */
  naming?: Naming
  progress: ProgressListener
  /** How notes and warnings on probes that will not count are worded. */
  refusals: RefusalWording
  /** The caller's checks of the modules once read, before they are planned (e.g. which may be missing). */
  checkModules?: (modules: readonly TargetModule[]) => void
  /** kprobe: the device (default DEFAULT_DEVICE). */
  device?: string
  /**
   * kprobe: open the device after the modules are planned (the CLI: a mistake
   * in --module is told first); by default it is opened first (the front ends:
   * without it nothing else matters).
   */
  deviceLast?: boolean
  /** kprobe: attribution slots (processes or test files counted at once); default 1. */
  slots?: number
  /** kprobe: record callers of function probes; log2 of edge counters (0: none); trace capacity (0: none). */
  callers?: boolean
  edgeBits?: number
  traceEntries?: number
  /** KCOV: the KCOV file, records per thread buffer, and (test workers) trace libuv's pool / child processes. */
  kcov?: { path?: string; buffer?: number; threadPool?: boolean; children?: boolean }
}

export interface Backend {
  readonly name: BackendName
  readonly plan: Plan
  readonly modules: readonly TargetModule[]
  /** Whether counting needs startInBackground() to settle before test workers count (kprobe: the probes armed). */
  readonly armsInBackground: boolean
  /** Starts counting in the foreground, with progress; returns the probes that will not count (told through progress). */
  start(): FailedProbe[]
  /** start() off the main thread: the event loop goes on; no progress. Resolves with the probes that will not count. */
  startInBackground(): Promise<FailedProbe[]>
  /** The token test workers adopt (COLLECTOR_ENV); they sample each test file themselves. */
  share(): string
  /** The environment a command needs to be counted, from its own. */
  commandEnv(base: Record<string, string | undefined>): Record<string, string | undefined>
  /** Counts process `pid` (held, not yet running) and what it starts. */
  follow(pid: number): void
  /** Stops counting the followed process (it exited, or the caller is done watching). */
  unfollow(): void
  /** What the followed process was counted for (zeros if none was followed). */
  sample(): CommandSample
  /** Each probe's state now. */
  snapshot(): ProbeStates
  /** Frees what the backend holds (the kernel removes every probe). Idempotent. */
  close(): void
}
