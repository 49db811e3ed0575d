/**
 * The worker side of a test run: a test worker process (Vitest's forks
 * pool, Jest's workers) reaches the collector its runner opened (inherited
 * fd, see Collector.share) and attaches itself to a slot of its own before
 * a test file runs. take() ends the file's sample: the slot's counters are
 * read and zeroed, so the next file of the same worker starts from zero.
 *
 * State: attach() -> take() ... -> close(); take() is allowed any number of
 * times while attached, close() releases the slot and drops the fd.
 */
import { Collector, type AttachScope } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import { encodeHits, type WorkerSample } from './sample.ts'

export type { WorkerSample } from './sample.ts'

/** The environment variable that carries Collector.share()'s token to workers. */
export const COLLECTOR_ENV = 'KPROBECOV_COLLECTOR'

export class WorkerAttachment {
  readonly #collector: Collector
  readonly #slot: number

  private constructor(collector: Collector, slot: number) {
    this.#collector = collector
    this.#slot = slot
  }

  /**
   * Attaches this process: scope 'tree' (it, its threads and the processes
   * it starts from now on) or 'process' (its threads; for runners that start
   * workers as threads). undefined when the runner shares no collector
   * (coverage off). Throws KprobecovError naming the fix.
   */
  static attach(scope: Extract<AttachScope, 'tree' | 'process'>, env: Record<string, string | undefined> = process.env): WorkerAttachment | undefined {
    const token = env[COLLECTOR_ENV]
    if (token === undefined || token === '') return undefined
    const collector = Collector.adopt(token)
    try {
      const slot = collector.attach({ scope, pid: process.pid, sampleId: BigInt(process.pid) })
      return new WorkerAttachment(collector, slot)
    } catch (e) {
      collector.close()
      if (e instanceof KprobecovError && e.code === 'EBUSY') {
        throw new KprobecovError('EBUSY', `pid ${process.pid} is attached already: test files that run at the same time in one process cannot be told apart; run one file per process (Vitest: pool 'forks'), or one at a time`)
      }
      throw e
    }
  }

  /** The hits since attach() or the last take(), and zeroes them. */
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

  /** Releases the slot and drops this process's fd of the collector. Idempotent. */
  close(): void {
    if (this.#collector.closed) return
    try {
      this.#collector.release(this.#slot)
    } finally {
      this.#collector.close()
    }
  }
}
