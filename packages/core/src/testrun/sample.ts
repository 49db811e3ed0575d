/**
 * What a test worker hands to its runner's main process after one test file:
 * the non-zero hit counters of its slot. Plain JSON (Vitest passes it through
 * its RPC and keeps it in blob reports; Jest through a file), counts as
 * numbers up to 2^53 and decimal strings above.
 */
import { KprobecovError } from '../errors.ts'
import type { KcovSampleStats } from '../kcov/worker.ts'

export interface WorkerSample {
  kprobecov: 'sample'
  /** Probes added when the sample was taken: the plan it belongs to has as many. */
  probes: number
  /** [probe index, hits], in probe order, hits > 0. */
  hits: Array<[probe: number, hits: number | string]>
  /** The worker process. */
  pid: number
  /** Forks the kernel could not follow (max_tasks reached): counts may miss them. */
  lostTasks: number
  /** Optional: the KCOV backend's account of the sample (absent with kprobes). */
  kcov?: KcovSampleStats
}

export function encodeHits(index: Uint32Array, counts: BigUint64Array): WorkerSample['hits'] {
  const hits: WorkerSample['hits'] = []
  for (let k = 0; k < index.length; k++) {
    const c = counts[k] ?? 0n
    if (c === 0n) continue
    hits.push([index[k]!, c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c.toString()])
  }
  return hits
}

export function isWorkerSample(v: unknown): v is WorkerSample {
  return typeof v === 'object' && v !== null && (v as { kprobecov?: unknown }).kprobecov === 'sample' && Array.isArray((v as WorkerSample).hits)
}

/** Adds a sample's hits into counts (one per probe of the plan). */
export function addSample(counts: BigUint64Array, sample: WorkerSample): void {
  if (sample.probes !== counts.length) {
    throw new KprobecovError('EINVAL', `a worker's sample counts ${sample.probes} probes, the plan ${counts.length}: the worker reached another collector`)
  }
  for (const [probe, hits] of sample.hits) {
    if (!(probe >= 0 && probe < counts.length)) throw new KprobecovError('EINVAL', `a worker's sample names probe ${probe}, past the plan's ${counts.length}`)
    counts[probe] = (counts[probe] ?? 0n) + BigInt(hits)
  }
}
