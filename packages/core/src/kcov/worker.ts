/**
 * The worker side of a test run with the KCOV backend: what WorkerAttachment
 * does for a runner whose TestRun chose KCOV. The runner's main process
 * planned the modules and wrote the KcovMap to a file (KcovShared, carried
 * in the same environment variable as a kprobe collector's token); a test
 * worker traces itself with KCOV and turns the PCs into the same
 * WorkerSample the kprobe backend produces.
 *
 * What is traced, per process (the tracer lives as long as the process, on
 * globalThis, so a runner that attaches once per test file reuses it): the
 * thread that attaches (the one that runs the tests) and, unless
 * threadPool is false, every thread of libuv's pool (see KcovTracer); and,
 * unless children is false, the processes the tests start from then on
 * (their threads too), through the preload library (kcov/preload.ts) set
 * in this process's environment: what they wrote when they exited counts
 * for the test file whose take() reads it. Not traced: worker_threads the
 * tests start, static or set-uid programs, children still running at
 * take() (counted for the next file), and interrupts. The buffers are
 * drained every DRAIN_MS by a thread of the tracer's own (a synchronous
 * stretch of JavaScript, e.g. Jest loading a test file, does not stop it),
 * keeping what lands in the module area; where the modules are is read at
 * each take() and every BASES_MS while the event loop turns, and each PC is
 * placed with the addresses the modules had (kcov/map.ts countSites).
 *
 * State: attach() -> [ready()] -> take() ... -> close(); take() is allowed
 * any number of times. attach() again after close() traces the thread again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KprobecovError } from '../errors.ts'
import type { WorkerSample } from '../testrun/sample.ts'
import { countSites, probeHits, withoutFreedInit, type KcovMap, type TargetBases } from './map.ts'
import { moduleAreaRange, preloadEnv, readPreloadRecords, targetBases } from './preload.ts'
import { moduleLoadId, moduleSectionBases } from './system.ts'
import { KcovTracer, uvThreadPoolSize } from './tracer.ts'
import type { KcovShared } from './shared.ts'

export { isKcovShared, type KcovShared } from './shared.ts'

/** What a KCOV sample says besides its hits. */
export interface KcovSampleStats {
  /** Records read (every traced thread, all of the kernel). */
  records: number
  /** Thread buffers found full: records after that were lost. */
  overflows: number
  /** PCs in a measured module that are no KCOV call site of its .ko, and the first one. */
  unknown: number
  firstUnknown?: string
  /** Threads traced (the attaching thread and the pool's). */
  threads: number
  /** Child processes whose records came in (they had exited). */
  children: number
  /** Why the pool is not traced, if it is not. */
  poolError?: string
}

const DRAIN_MS = 100
const BASES_MS = 200
/** Pool threads do less of a test's kernel work: smaller buffers, at least this many records. */
const MIN_POOL_RECORDS = 1 << 16

interface ProcessState {
  tracer: KcovTracer
  pool: Promise<void> | undefined
  poolError: string | undefined
  maps: Map<string, KcovMap>
  /** Where traced children write (set up once per process). */
  childDir: string | undefined
  /** LD_PRELOAD as it was before. */
  ldPreload?: string | undefined
}

const KEY = Symbol.for('kprobecov.kcov.process')
const global = globalThis as { [KEY]?: ProcessState }

function processState(shared: KcovShared): ProcessState {
  let st = global[KEY]
  if (!st || st.tracer.closed) {
    st = { tracer: KcovTracer.open('pc', shared.path), pool: undefined, poolError: undefined, maps: new Map(), childDir: undefined }
    st.tracer.startDrainer(moduleAreaRange(BigInt(shared.kaslr)), 1, DRAIN_MS)
    global[KEY] = st
  }
  return st
}

function readMap(st: ProcessState, file: string, pid: number): KcovMap {
  let map = st.maps.get(file)
  if (map) return map
  try {
    map = JSON.parse(readFileSync(file, 'utf8')) as KcovMap
  } catch {
    throw new KprobecovError('ENOCOLLECTOR', `this process (pid ${process.pid}) cannot read the KCOV map of pid ${pid} (${file}): run the tests in worker processes the runner starts itself, on the same machine`)
  }
  if (map.kprobecov !== 'kcov-map' || map.version !== 1) {
    throw new KprobecovError('EABI', `${file} is not a KCOV map of this @kprobecov/core: run the tests with the runner's own kprobecov`)
  }
  st.maps.set(file, map)
  return map
}

/** The environment variables the preload library reads (and LD_PRELOAD). */
const PRELOAD_VARS = ['KPROBECOV_KCOV_OUT', 'KPROBECOV_KCOV_MODE', 'KPROBECOV_KCOV_BUFFER', 'KPROBECOV_KCOV_RANGES', 'KPROBECOV_KCOV_PATH']

/** Puts the preload library in this process's environment, or takes it out (children: false). */
function traceChildren(st: ProcessState, shared: KcovShared): void {
  if (shared.children) {
    if (st.childDir === undefined) {
      const dir = mkdtempSync(path.join(tmpdir(), `kprobecov-kcov-${process.pid}-`))
      st.childDir = dir
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
      st.ldPreload = process.env.LD_PRELOAD
    }
    Object.assign(process.env, preloadEnv({
      dir: st.childDir, mode: 'pc', buffer: shared.buffer, kaslr: BigInt(shared.kaslr), path: shared.path, modules: shared.modules,
    }))
    return
  }
  if (st.childDir === undefined) return
  for (const v of PRELOAD_VARS) delete process.env[v]
  if (st.ldPreload === undefined) delete process.env.LD_PRELOAD
  else process.env.LD_PRELOAD = st.ldPreload
}

export class KcovWorker {
  readonly #shared: KcovShared
  readonly #st: ProcessState
  readonly #map: KcovMap
  readonly #kaslr: bigint
  #timer: ReturnType<typeof setInterval> | undefined
  #records = 0
  #overflows = 0
  /** Distinct section addresses seen by the drains since the last take, the latest first. */
  #seen: TargetBases[] = []
  /**
   * Per target, the load of its module when this window (attach or the last
   * take, to the next take) began: that load's module_init ran before, so
   * its .init.* sections, freed since, are left out of the window's bases
   * (other code may be there by now). A load during the window keeps them.
   */
  #loadsAtStart: Array<bigint | undefined> = []
  #error: unknown
  #closed = false

  private constructor(shared: KcovShared, st: ProcessState, map: KcovMap) {
    this.#shared = shared
    this.#st = st
    this.#map = map
    this.#kaslr = BigInt(shared.kaslr)
  }

  /** Traces the calling thread (and the pool); what ran before is dropped. Throws KprobecovError naming the fix. */
  static attach(shared: KcovShared): KcovWorker {
    const st = processState(shared)
    const map = readMap(st, shared.map, shared.pid)
    st.tracer.enableThisThread(shared.buffer)
    if (shared.threadPool && st.pool === undefined) {
      st.pool = st.tracer.enablePool(Math.max(MIN_POOL_RECORDS, shared.buffer >> 2), uvThreadPoolSize()).then(({ threads, errors }) => {
        if (errors.length > 0) st.poolError = errors[0]!.message
        else if (threads < 1 + uvThreadPoolSize()) st.poolError = `${threads - 1} of libuv's ${uvThreadPoolSize()} pool threads are traced (the pool was busy)`
      }, (e: unknown) => {
        st.poolError = e instanceof Error ? e.message : String(e)
      })
    }
    traceChildren(st, shared)
    const w = new KcovWorker(shared, st, map)
    w.#loadsAtStart = w.#loads()
    w.#drain()
    st.tracer.takePcs() // start from zero
    if (st.childDir !== undefined) readPreloadRecords(st.childDir, true) // what children wrote before
    w.#records = 0
    w.#overflows = 0
    w.#timer = setInterval(() => {
      try {
        w.#drain()
      } catch (e) {
        w.#error ??= e // told by the next take()
      }
    }, BASES_MS)
    w.#timer.unref()
    return w
  }

  /** Resolves once libuv's pool threads are traced (or could not be). */
  async ready(): Promise<void> {
    await this.#st.pool
  }

  /** The hits since attach() or the last take(), and starts again from zero. */
  take(): WorkerSample {
    if (this.#closed) throw new KprobecovError('ECLOSED', 'take: the KCOV worker is closed')
    if (this.#error !== undefined) throw this.#error
    this.#drain()
    const { pcs, counts } = this.#st.tracer.takePcs()
    const seen = this.#seen
    const sites = countSites(this.#map, Array.from(pcs, (pc, i) => [pc, counts[i]!] as const), seen, this.#kaslr)
    let children = 0
    if (this.#shared.children && this.#st.childDir !== undefined) {
      // A child saw the modules where they were for it (it may have loaded or unloaded them).
      const rec = readPreloadRecords(this.#st.childDir, true)
      children = rec.processes
      this.#overflows += rec.overflows
      for (const f of rec.files) {
        countSites(this.#map, f.pcs, [...f.bases.map((b) => targetBases(this.#map.targets, b)), ...seen], this.#kaslr, sites)
      }
    }
    this.#loadsAtStart = this.#loads()
    // The next window begins now: the modules loaded now ran their module_init before it.
    this.#seen = seen.slice(0, 1).map((b) => withoutFreedInit(b, this.#loadsAtStart, this.#loadsAtStart))
    const r = { hits: probeHits(this.#map, sites), unknown: sites.unknown, firstUnknown: sites.firstUnknown }
    const hits: WorkerSample['hits'] = [...r.hits].sort((a, b) => a[0] - b[0]).map(([probe, c]) =>
      [probe, c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c.toString()])
    const info = this.#st.tracer.info()
    const kcov: KcovSampleStats = { records: this.#records, overflows: this.#overflows, unknown: r.unknown, threads: info.enabled, children }
    if (r.firstUnknown !== undefined) kcov.firstUnknown = r.firstUnknown
    if (this.#shared.threadPool && this.#st.poolError !== undefined) kcov.poolError = this.#st.poolError
    this.#records = 0
    this.#overflows = 0
    return { kprobecov: 'sample', probes: this.#map.probes, hits, pid: process.pid, lostTasks: 0, kcov }
  }

  /**
   * Stops draining and tracing the calling thread (call it from the thread
   * that attached: it is then free for other KCOV uses, e.g. comparisons).
   * libuv's pool stays traced: a later attach of this process reuses it.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    this.#st.tracer.disableThisThread()
  }

  #loads(): Array<bigint | undefined> {
    return this.#map.targets.map((t) => moduleLoadId(t.module))
  }

  /** Buffers into the tracer's table, keeping the PCs of the measured modules as they are loaded now. */
  #drain(): void {
    const bases = withoutFreedInit(this.#map.targets.map((t) => moduleSectionBases(t.module, t.sections.map((s) => s.name))), this.#loadsAtStart, this.#loads())
    const key = (b: TargetBases) => b.map((m) => (m ? [...m].map(([k, v]) => `${k}=${v}`).join(',') : '-')).join(';')
    this.#seen = [bases, ...this.#seen.filter((b) => key(b) !== key(bases))].slice(0, 8)
    const s = this.#st.tracer.drain(moduleAreaRange(this.#kaslr), 1)
    this.#records += s.records
    this.#overflows += s.overflows
  }
}
