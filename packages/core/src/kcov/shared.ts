/**
 * What the main process tells its workers when the KCOV backend traces (one
 * line of JSON in their environment), kept apart from kcov/worker.ts so that
 * a worker of the kprobe backend recognises it without loading the KCOV code.
 */
/** What the main process tells its workers (one line of JSON in their environment). */
export interface KcovShared {
  backend: 'kcov'
  /** The KcovMap's file. */
  map: string
  /** The kernel's KASLR offset, decimal. */
  kaslr: string
  /** The KCOV file. */
  path: string
  /** Records per thread buffer (the attaching thread's; pool threads get a quarter). */
  buffer: number
  /** Trace libuv's thread pool too. */
  threadPool: boolean
  /** Trace the processes the tests start (LD_PRELOAD). */
  children: boolean
  /** The measured modules (the map's targets), whose sections children report. */
  modules: string[]
  /** The main process, for messages. */
  pid: number
}

export function isKcovShared(v: unknown): v is KcovShared {
  const s = v as Partial<KcovShared> | null
  return typeof s === 'object' && s !== null && s.backend === 'kcov' && typeof s.map === 'string' &&
    typeof s.kaslr === 'string' && typeof s.path === 'string' && typeof s.buffer === 'number'
}
