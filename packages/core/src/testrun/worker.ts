/**
 * The worker side of a test run: a test worker process (Vitest's forks
 * pool, Jest's workers) reaches the collector its runner opened (inherited
 * fd, see Collector.share) and attaches itself to a slot of its own before
 * a test file runs. take() ends the file's sample: the slot's counters are
 * read and zeroed, so the next file of the same worker starts from zero.
 * With the KCOV backend (the runner's TestRun chose it) the worker traces
 * its own threads instead (see kcov/worker.ts); the samples are the same.
 *
 * The runner's main process plants and arms the probes in the background
 * (see armed.ts): a worker that starts before they are armed attaches once
 * the armed signal says so, in ready(); a test file must not run before
 * ready() resolved. When arming failed, attach() or ready() throws the main
 * process's one line.
 *
 * State: attach() -> ready() -> take() ... -> close(); take() is allowed
 * any number of times once ready, close() releases the slot and drops
 * the fd.
 */
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import { Collector, type AttachScope } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import { isKcovShared } from '../kcov/shared.ts'
import { ARMED_ENV, readArmedSignal, waitArmed } from './armed.ts'
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
    const signal = env[ARMED_ENV]
    if (signal !== undefined && signal !== '') {
      const state = readArmedSignal(signal)
      if (state instanceof KprobecovError) throw state
      if (state === undefined) {
        // Not armed yet: attach once it is (an attach now would wait in the
        // kernel for the registration of the probes, blocking this thread).
        const owner = (parsed as { pid?: unknown } | undefined)?.pid
        const ownerPid = typeof owner === 'number' ? owner : undefined
        return new WorkerAttachment(new PendingSource(waitArmed(signal, { ownerPid, env }).then(() => attachKprobe(token, scope))))
      }
    }
    return new WorkerAttachment(attachKprobe(token, scope))
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

function attachKprobe(token: string, scope: Extract<AttachScope, 'tree' | 'process'>): KprobeSource {
  const collector = Collector.adopt(token)
  try {
    const slot = collector.attach({ scope, pid: process.pid, sampleId: BigInt(process.pid) })
    return new KprobeSource(collector, slot)
  } catch (e) {
    collector.close()
    if (e instanceof KprobecovError && e.code === 'EBUSY') {
      throw new KprobecovError('EBUSY', `pid ${process.pid} is attached already: test files that run at the same time in one process cannot be told apart; run one file per process (Vitest: pool 'forks'), or one at a time`)
    }
    throw e
  }
}

/** A kprobe attachment made once the probes are armed. */
class PendingSource implements Source {
  readonly #attached: Promise<KprobeSource>
  #source: KprobeSource | undefined
  #closed = false

  constructor(attached: Promise<KprobeSource>) {
    this.#attached = attached.then((source) => {
      if (this.#closed) source.close() // closed while waiting: nothing to keep
      else this.#source = source
      return source
    })
    this.#attached.catch(() => {}) // ready() reports it
  }

  async ready(): Promise<void> {
    await this.#attached
  }

  take(): WorkerSample {
    if (!this.#source) throw new KprobecovError('EBADFD', 'take: this worker is not attached yet: await ready() before the tests run')
    return this.#source.take()
  }

  close(): void {
    this.#closed = true
    this.#source?.close()
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
