/**
 * One measured run, in memory (RunData) and on disk (kprobecov-run.json in
 * the run's output directory): the plan (the denominator) and what the
 * kernel counted, which is all `kprobecov report` and the queries need.
 *
 * The file holds 64-bit counts as decimal strings where they exceed 2^53,
 * probe states as the kernel gave them (ProbeState bits, kind in bits 8..15),
 * callers only for runs made with --callers, edges only with --edge-bits > 0.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ProbeState } from '../device/collector.ts'
import type { ModuleMatch } from '../device/system.ts'
import { KprobecovError } from '../errors.ts'
import type { Plan } from '../plan/types.ts'

export const RUN_FILE = 'kprobecov-run.json'

export interface CallerRow {
  /** "func+0x1a/0x40 [module]", as the kernel prints it. */
  symbol: string
  calls: bigint
  /** report-path:line of the call, when the caller is in a measured module. */
  source?: string
}

export interface CallersOf {
  callers: CallerRow[]
  /** Calls from callers beyond the module's max_callers. */
  overflow: bigint
}

export interface ModuleRecord {
  name: string
  object: string
  buildId: string
  /** How it was found before the command ran; 'not-loaded' ones may have been loaded by it. */
  loaded: ModuleMatch
}

export interface RunData {
  plan: Plan
  root: string
  modules: ModuleRecord[]
  /** The command measured, if any, and its exit status. */
  command: string[] | undefined
  exitStatus: number | undefined
  counts: BigUint64Array
  state: Uint32Array
  error: Int32Array
  /** By function-entry probe; undefined when callers were not recorded. */
  callers: Map<number, CallersOf> | undefined
  /** Non-zero edge buckets; undefined when edges were not counted. */
  edges: { bits: number; counts: Map<number, number> } | undefined
  /** Optional: 'kcov' for a run measured with KCOV (probes it cannot see are failed, EOPNOTSUPP). */
  backend?: 'kprobe' | 'kcov'
}

interface RunFile {
  kprobecov: 'run'
  version: 1
  command: string[] | null
  exitStatus: number | null
  root: string
  modules: ModuleRecord[]
  plan: Plan
  counts: Array<number | string>
  state: number[]
  error: number[]
  callers?: Record<string, { overflow: string; callers: Array<{ symbol: string; calls: string; source?: string }> }>
  edges?: { bits: number; buckets: Array<[bucket: number, count: number]> }
  backend?: 'kprobe' | 'kcov'
}

const big = (v: bigint): number | string => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString())

export function runToJson(run: RunData): string {
  const file: RunFile = {
    kprobecov: 'run',
    version: 1,
    command: run.command ?? null,
    exitStatus: run.exitStatus ?? null,
    root: run.root,
    modules: run.modules,
    plan: run.plan,
    counts: Array.from(run.counts, big),
    state: Array.from(run.state),
    error: Array.from(run.error),
  }
  if (run.callers) {
    file.callers = {}
    for (const [probe, c] of run.callers) {
      file.callers[probe] = {
        overflow: c.overflow.toString(),
        callers: c.callers.map((r) => ({ symbol: r.symbol, calls: r.calls.toString(), ...(r.source ? { source: r.source } : {}) })),
      }
    }
  }
  if (run.edges) file.edges = { bits: run.edges.bits, buckets: [...run.edges.counts] }
  if (run.backend === 'kcov') file.backend = 'kcov'
  return `${JSON.stringify(file)}\n`
}

/** Reads DIR/kprobecov-run.json. Throws KprobecovError naming the fix. */
export function readRun(dir: string): RunData {
  const file = path.join(dir, RUN_FILE)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new KprobecovError('ENOENT', `no saved run in ${dir} (${RUN_FILE} is missing): make one with kprobecov run --out ${dir} --module NAME -- CMD`)
  }
  const bad = (what: string): KprobecovError =>
    new KprobecovError('EINVAL', `${file} is not a saved kprobecov run (${what}): run kprobecov run again`)
  let f: RunFile
  try {
    f = JSON.parse(text) as RunFile
  } catch {
    throw bad('not JSON')
  }
  if (f?.kprobecov !== 'run' || f.version !== 1) throw bad('unknown format or version')
  const n = f.plan?.probes?.length
  if (typeof n !== 'number' || f.counts?.length !== n || f.state?.length !== n || f.error?.length !== n) {
    throw bad('its counters do not match its plan')
  }
  let counts: BigUint64Array
  try {
    counts = BigUint64Array.from(f.counts, (v) => BigInt(v))
  } catch {
    throw bad('a counter is not a number')
  }
  const run: RunData = {
    plan: f.plan,
    root: f.root,
    modules: f.modules ?? [],
    command: f.command ?? undefined,
    exitStatus: f.exitStatus ?? undefined,
    counts,
    state: Uint32Array.from(f.state),
    error: Int32Array.from(f.error),
    callers: undefined,
    edges: undefined,
  }
  if (f.callers) {
    run.callers = new Map()
    for (const [probe, c] of Object.entries(f.callers)) {
      run.callers.set(Number(probe), {
        overflow: BigInt(c.overflow),
        callers: c.callers.map((r) => ({ symbol: r.symbol, calls: BigInt(r.calls), ...(r.source ? { source: r.source } : {}) })),
      })
    }
  }
  if (f.edges) run.edges = { bits: f.edges.bits, counts: new Map(f.edges.buckets) }
  if (f.backend === 'kcov') run.backend = 'kcov'
  return run
}

/** The kernel refused probe i (never planted): its lines are not instrumented. */
export function failedProbes(run: Pick<RunData, 'state'>): (i: number) => boolean {
  return (i) => ((run.state[i] ?? 0) & ProbeState.FAILED) !== 0
}
