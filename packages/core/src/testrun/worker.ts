/**
 * The worker side of a test run: a test worker process (Vitest's forks
 * pool, Jest's workers) reaches the collector its runner opened (inherited
 * fd, see Collector.share) and attaches itself to a slot of its own before
 * a test file runs. take() ends the file's sample: the slot's counters are
 * read and zeroed, so the next file of the same worker starts from zero.
 * With the KCOV backend (the runner's TestRun chose it) the worker traces
 * its own threads instead (see kcov/worker.ts); the samples are the same.
 *
 * State: attach() -> [ready()] -> take() ... -> close(); take() is allowed
 * any number of times while attached, close() releases the slot and drops
 * the fd.
 */
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import { Collector, type AttachScope } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import { isKcovShared } from '../kcov/shared.ts'
import { encodeHits, type WorkerSample } from './sample.ts'

export type { WorkerSample } from './sample.ts'

/** The environment variable that carries Collector.share()'s token (or the KCOV backend's) to workers. */
export const COLLECTOR_ENV = 'KPROBECOV_COLLECTOR'

/**
 * The KCOV backend's worker side, loaded only when the runner chose it: a
 * worker is started for each test file, and the kprobe backend's needs
 * neither the KCOV code nor planning (Node's require of ES modules).
 */
const kcovWorker = () => (createRequire(import.meta.url)(`../kcov/worker${extname(import.meta.url)}`) as
  typeof import('../kcov/worker.ts')).KcovWorker

interface Source {
  take(): WorkerSample
  close(): void
  ready(): Promise<void>
}

export class WorkerAttachment {
  readonly #source: Source

  private constructor(source: Source) {
    this.#source = source
  }

  /**
   * Attaches this process: scope 'tree' (it, its threads and the processes
   * it starts from now on) or 'process' (its threads; for runners that start
   * workers as threads). With the KCOV backend: the calling thread and
   * libuv's pool (KCOV has no scopes). undefined when the runner shares no
   * collector (coverage off). Throws KprobecovError naming the fix.
   */
  static attach(scope: Extract<AttachScope, 'tree' | 'process'>, env: Record<string, string | undefined> = process.env): WorkerAttachment | undefined {
    const token = env[COLLECTOR_ENV]
    if (token === undefined || token === '') return undefined
    let parsed: unknown
    try {
      parsed = JSON.parse(token)
    } catch {
      parsed = undefined // Collector.adopt says what is wrong with it
    }
    if (isKcovShared(parsed)) return new WorkerAttachment(kcovWorker().attach(parsed))
    const collector = Collector.adopt(token)
    try {
      const slot = collector.attach({ scope, pid: process.pid, sampleId: BigInt(process.pid) })
      return new WorkerAttachment(new KprobeSource(collector, slot))
    } catch (e) {
      collector.close()
      if (e instanceof KprobecovError && e.code === 'EBUSY') {
        throw new KprobecovError('EBUSY', `pid ${process.pid} is attached already: test files that run at the same time in one process cannot be told apart; run one file per process (Vitest: pool 'forks'), or one at a time`)
      }
      throw e
    }
  }

  /** Resolves when everything is traced (KCOV: libuv's pool threads); await it before the tests run. */
  ready(): Promise<void> {
    return this.#source.ready()
  }

  /** The hits since attach() or the last take(), and zeroes them. */
  take(): WorkerSample {
    return this.#source.take()
  }

  /** Releases the slot and drops this process's fd of the collector. Idempotent. */
  close(): void {
    this.#source.close()
  }
}

class KprobeSource implements Source {
  readonly #collector: Collector
  readonly #slot: number

  constructor(collector: Collector, slot: number) {
    this.#collector = collector
    this.#slot = slot
  }

  async ready(): Promise<void> {}

  take(): WorkerSample {
    const { index, counts } = this.#collector.readNonZero(this.#slot)
    const stats = this.#collector.slotStats(this.#slot)
    this.#collector.reset(this.#slot)
    return {
      kprobecov: 'sample',
      probes: this.#collector.probeCount,
      hits: encodeHits(index, counts),
      pid: process.pid,
      lostTasks: Number(stats.lostTasks),
    }
  }

  close(): void {
    if (this.#collector.closed) return
    try {
      this.#collector.release(this.#slot)
    } finally {
      this.#collector.close()
    }
  }
}
