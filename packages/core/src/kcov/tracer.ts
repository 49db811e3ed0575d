/**
 * KcovTracer: one set of KCOV buffers (libkprobecov's kpc_kcov_set), one
 * per traced thread of this process, drained together.
 *
 * KCOV traces only the thread that enabled it. A Node process does its
 * kernel work on its main thread (synchronous fs, ffi calls like ioctl) and
 * on libuv's thread pool (asynchronous fs and fs.promises, dns.lookup,
 * crypto, zlib, and ffi-rs calls with runInNewThread). enableThisThread()
 * traces the caller; enablePool() traces every thread of the pool: it
 * queues one job per pool thread (UV_THREADPOOL_SIZE, default 4), each of
 * which waits in a barrier until all have started, so that each holds a
 * thread of its own, then enables KCOV there. Jobs queued after them
 * (the tests' own) run on traced threads.
 *
 * Not traced: Node's other threads (V8's, the inspector's), worker_threads
 * a test starts, and child processes (KCOV is never inherited).
 */
import {
  KCOV_TRACE_CMP, KCOV_TRACE_PC, KcovCmp, KcovStats,
} from '../native/abi.ts'
import * as native from '../native/lib.ts'
import { errnoError, errnoMessage, errnoName, KprobecovError } from '../errors.ts'
import { DEFAULT_KCOV, kcovOpenError } from './system.ts'

export type KcovMode = 'pc' | 'cmp'

export interface KcovDrainStats {
  /** Buffers in the set (threads traced so far). */
  threads: number
  /** Records read by this drain. */
  records: number
  /** Of them, in the ranges given. */
  inRanges: number
  /** Buffers found full: records after that were lost. */
  overflows: number
  /** Records in the fullest buffer. */
  maxFill: number
}

export interface KcovComparison {
  /** Operand size in bytes: 1, 2, 4 or 8. */
  size: number
  /** One operand (arg1) is a compile-time constant. */
  constant: boolean
  arg1: bigint
  arg2: bigint
  /** Canonical PC: the callback's return address minus the KASLR offset. */
  pc: bigint
  count: bigint
}

/** libuv's pool size as libuv reads it: UV_THREADPOOL_SIZE, 1 .. 1024, default 4. */
export function uvThreadPoolSize(env: Record<string, string | undefined> = process.env): number {
  const v = env.UV_THREADPOOL_SIZE
  if (v === undefined || v === '') return 4
  const n = Number.parseInt(v, 10)
  if (!Number.isFinite(n) || n <= 0) return 1
  return Math.min(n, 1024)
}

const ENOTSUPP = 524
const u64Out = (): BigUint64Array => new BigUint64Array(1)
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

const finalizer = new FinalizationRegistry<bigint>((set) => native.kpcKcovSetFree(set))

export class KcovTracer {
  readonly mode: KcovMode
  readonly path: string
  #set: bigint

  private constructor(mode: KcovMode, path: string, set: bigint) {
    this.mode = mode
    this.path = path
    this.#set = set
    finalizer.register(this, set, this)
  }

  /** A new set. Throws KprobecovError ENOKCOV_KERNEL / EACCES naming the fix. */
  static open(mode: KcovMode, path: string = DEFAULT_KCOV): KcovTracer {
    const out = u64Out()
    const ret = native.kpcKcovSetNew(path, mode === 'cmp' ? KCOV_TRACE_CMP : KCOV_TRACE_PC, bytes(out))
    if (ret < 0) throw kcovOpenError(ret, path)
    return new KcovTracer(mode, path, out[0]!)
  }

  get closed(): boolean {
    return this.#set === 0n
  }

  /** Traces the calling thread into a buffer of `records` records (again: no-op). Returns its buffer index. */
  enableThisThread(records: number): number {
    const ret = native.kpcKcovSetEnable(this.#ready('enable'), this.#words(records))
    if (ret < 0) throw this.#enableError(ret, records)
    return ret
  }

  /**
   * Traces each of the n threads of libuv's pool (see above). Resolves with
   * the threads the set traces afterwards and the errors of jobs that
   * failed (-errno); a job that found the barrier closed (fewer threads than
   * n, or a pool busy with long jobs for timeoutMs) traced the thread it ran on.
   */
  async enablePool(records: number, n: number = uvThreadPoolSize(), timeoutMs = 10_000): Promise<{ threads: number; errors: KprobecovError[] }> {
    const set = this.#ready('enablePool')
    const words = this.#words(records)
    const results = await Promise.all(Array.from({ length: n }, () => native.kpcKcovSetEnableBarrierInPool(set, words, n, timeoutMs)))
    const errors = results.filter((r) => r < 0).map((r) => this.#enableError(r, records))
    return { threads: this.info().enabled, errors }
  }

  /**
   * Drains every intervalMs on a thread of its own (see kpc_kcov_set_drainer),
   * keeping the records in `ranges`; 0 stops it.
   */
  startDrainer(ranges: BigUint64Array, nranges: number, intervalMs: number): void {
    const words = ranges.length >= 2 ? ranges : new BigUint64Array(2)
    const ret = native.kpcKcovSetDrainer(this.#ready('startDrainer'), bytes(words), nranges, intervalMs)
    if (ret < 0) throw errnoError(ret, `starting KCOV's drainer failed: ${errnoMessage(ret)}`)
  }

  /** Stops tracing the calling thread (its records stay to be drained). */
  disableThisThread(): void {
    const ret = native.kpcKcovSetDisable(this.#ready('disable'))
    if (ret < 0 && errnoName(ret) !== 'ENOENT') throw errnoError(ret, `KCOV_DISABLE failed: ${errnoMessage(ret)}`)
  }

  /**
   * Reads every buffer into the set's table (records whose PC is in one of
   * the [lo, hi) pairs of `ranges`, canonical addresses) and restarts them.
   */
  drain(ranges: BigUint64Array, nranges: number): KcovDrainStats {
    const st = new BigUint64Array(KcovStats.SIZE / 8)
    const words = ranges.length >= 2 ? ranges : new BigUint64Array(2)
    const ret = native.kpcKcovSetDrain(this.#ready('drain'), bytes(words), nranges, bytes(st))
    if (ret < 0) throw errnoError(ret, `draining KCOV's buffers failed: ${errnoMessage(ret)}`)
    const at = (o: number) => Number(st[o / 8] ?? 0n)
    return {
      threads: at(KcovStats.threads), records: at(KcovStats.records), inRanges: at(KcovStats.in_ranges),
      overflows: at(KcovStats.overflows), maxFill: at(KcovStats.max_fill),
    }
  }

  /** The distinct PCs drained since the last take, ascending, with their counts; empties the table. */
  takePcs(): { pcs: BigUint64Array; counts: BigUint64Array } {
    const set = this.#ready('takePcs')
    for (let capacity = 1024; ; capacity *= 4) {
      const pcs = new BigUint64Array(capacity)
      const counts = new BigUint64Array(capacity)
      const ret = native.kpcKcovSetTakePcs(set, bytes(pcs), bytes(counts), BigInt(capacity))
      if (ret >= 0) return { pcs: pcs.subarray(0, ret), counts: counts.subarray(0, ret) }
      if (errnoName(ret) !== 'ENOSPC') throw errnoError(ret, `reading KCOV's PCs failed: ${errnoMessage(ret)}`)
    }
  }

  /** The distinct comparisons drained since the last take, by (pc, type, arg1, arg2); empties the table. */
  takeComparisons(): KcovComparison[] {
    const set = this.#ready('takeComparisons')
    for (let capacity = 1024; ; capacity *= 4) {
      const buf = new BigUint64Array(capacity * (KcovCmp.SIZE / 8))
      const ret = native.kpcKcovSetTakeCmps(set, bytes(buf), BigInt(capacity))
      if (ret >= 0) {
        const out: KcovComparison[] = []
        const w = KcovCmp.SIZE / 8
        for (let i = 0; i < ret; i++) {
          const type = Number(buf[i * w + KcovCmp.type / 8]!)
          out.push({
            size: 1 << ((type >> 1) & 3), constant: (type & 1) !== 0,
            arg1: buf[i * w + KcovCmp.arg1 / 8]!, arg2: buf[i * w + KcovCmp.arg2 / 8]!,
            pc: buf[i * w + KcovCmp.pc / 8]!, count: buf[i * w + KcovCmp.count / 8]!,
          })
        }
        return out
      }
      if (errnoName(ret) !== 'ENOSPC') throw errnoError(ret, `reading KCOV's comparisons failed: ${errnoMessage(ret)}`)
    }
  }

  /** Threads traced now, and buffers held (threads traced so far). */
  info(): { enabled: number; threads: number } {
    const enabled = u64Out()
    const threads = u64Out()
    native.kpcKcovSetInfo(this.#ready('info'), bytes(enabled), bytes(threads))
    return { enabled: Number(enabled[0]), threads: Number(threads[0]) }
  }

  /**
   * Disables the calling thread, unmaps and closes every buffer. Threads of
   * the pool stay traced into unreachable buffers until they exit (and cannot
   * enable KCOV again): close only when the process is done. Idempotent.
   */
  close(): void {
    if (this.#set === 0n) return
    finalizer.unregister(this)
    native.kpcKcovSetFree(this.#set)
    this.#set = 0n
  }

  #ready(op: string): bigint {
    if (this.#set === 0n) throw new KprobecovError('ECLOSED', `${op}: the KCOV tracer is closed: open a new one`)
    return this.#set
  }

  /** Buffer words for `records` records: word 0 is the count; a comparison takes 4 words. */
  #words(records: number): bigint {
    if (!Number.isSafeInteger(records) || records < 1) throw new KprobecovError('EINVAL', `a KCOV buffer holds at least 1 record, not ${records}`)
    return BigInt(1 + records * (this.mode === 'cmp' ? 4 : 1))
  }

  #enableError(ret: number, records: number): KprobecovError {
    const mb = Math.ceil((records * (this.mode === 'cmp' ? 32 : 8)) / 2 ** 20)
    if (-ret === ENOTSUPP) {
      return new KprobecovError('ENOKCOV_KERNEL', `this kernel's KCOV has no comparison operands (CONFIG_KCOV_ENABLE_COMPARISONS is not set): use a kernel built with it`, { errno: ENOTSUPP })
    }
    switch (errnoName(ret)) {
      case 'EBUSY':
        return errnoError(ret, `KCOV_ENABLE: this thread is traced by another KCOV file already (another tool, or a second tracer in this process): one KCOV per thread`)
      case 'ENOMEM':
        return errnoError(ret, `the kernel has no memory for a KCOV buffer of ${mb} MB: give a smaller kcov.buffer`)
      case 'EINVAL':
        return errnoError(ret, `KCOV refused a buffer of ${records} records (${mb} MB): give a smaller kcov.buffer`)
      default:
        return errnoError(ret, `enabling KCOV failed: ${errnoMessage(ret)}`)
    }
  }
}
