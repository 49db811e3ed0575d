/**
 * Comparison operands (KCOV_TRACE_CMP): what the measured modules compared,
 * with which values, where. A kernel built with CONFIG_KCOV_ENABLE_COMPARISONS
 * calls a callback for every comparison (and every switch) of instrumented
 * code; KCOV records the operands, their size, whether one is a constant,
 * and the callback's return address, whose call (return address - 1) gives
 * the function and source line.
 *
 *   const { comparisons } = await traceComparisons([{ name: 'kvstore', object: 'driver/kvstore.ko' }], () => kv.set('k', 'v'))
 *   // [{ file: '/src/driver/kvstore.c', line: 88, function: 'kvstore_find', size: 8, constant: false, arg1: 3n, arg2: 0n, count: 1n, ... }]
 *
 * KCOV is per thread, one KCOV file per thread at a time: traceComparisons
 * traces the calling thread only (what fn does synchronously: asynchronous
 * fs calls run on libuv's pool and are not seen), and cannot run on a thread
 * the KCOV coverage backend traces already (a test worker of a run with
 * backend 'kcov'); `kprobecov cmp -- CMD` traces a whole command, its
 * threads and children included.
 */
import type { DebugInfo } from '../debuginfo/types.ts'
import { DEFAULT_CMP_BUFFER } from '../defaults.ts'
import { KprobecovError } from '../errors.ts'
import { loadDebugInfo } from '../native/debuginfo.ts'
import { lineRowAt } from './map.ts'
import { DEFAULT_KCOV, kaslrOffset, moduleSectionBases } from './system.ts'
import { KcovTracer, type KcovComparison } from './tracer.ts'

export interface ComparisonRecord extends KcovComparison {
  module: string
  /** Source function ('' unknown), e.g. kvstore_find. */
  function: string
  /** Absolute source path as in the debug info ('' unknown). */
  file: string
  /** 0: unknown. */
  line: number
  /** switch: the operands are a case value (arg1) and the switch's value. */
  switch: boolean
}

export interface ComparisonModule {
  name: string
  debugInfo: DebugInfo
}

/**
 * Places comparisons (canonical PCs) in the modules, loaded at `bases`
 * (per module, section → address; undefined: not loaded); those outside
 * every module are left out. Sorted by file, line, then operands.
 */
export function placeComparisons(
  comparisons: readonly KcovComparison[], modules: readonly ComparisonModule[],
  bases: ReadonlyArray<ReadonlyMap<string, bigint> | undefined>, kaslr: bigint,
): ComparisonRecord[] {
  const ranges: Array<{ lo: bigint; hi: bigint; module: ComparisonModule; section: number }> = []
  modules.forEach((m, i) => {
    const b = bases[i]
    if (!b) return
    m.debugInfo.sections.forEach((s, section) => {
      const base = b.get(s.name)
      if (base !== undefined) ranges.push({ lo: base - kaslr, hi: base - kaslr + BigInt(s.size), module: m, section })
    })
  })
  const out: ComparisonRecord[] = []
  for (const c of comparisons) {
    const r = ranges.find((x) => c.pc >= x.lo && c.pc < x.hi)
    if (!r) continue
    const di = r.module.debugInfo
    const off = Number(c.pc - r.lo)
    const site = di.kcovSites?.find((s) => s.section === r.section && s.sectionOffset === off)
    const fi = site?.function ?? di.functions.findIndex((f) => f.section === r.section && f.aliasOf === undefined && off > f.sectionOffset && off <= f.sectionOffset + f.size)
    const fn = fi !== undefined && fi >= 0 ? di.functions[fi] : undefined
    const row = fn ? lineRowAt(di, fn, off - fn.sectionOffset - 1) : undefined
    out.push({
      ...c, module: r.module.name, function: fn?.name || fn?.symbol || '', file: row ? (di.files[row.file] ?? '') : '',
      line: row?.line ?? 0, switch: site?.kind === 'switch',
    })
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line ||
    (a.arg1 < b.arg1 ? -1 : a.arg1 > b.arg1 ? 1 : a.arg2 < b.arg2 ? -1 : a.arg2 > b.arg2 ? 1 : 0)))
}

export interface TraceComparisonsOptions {
  /** The KCOV file; default /sys/kernel/debug/kcov. */
  path?: string
  /** Comparisons held; default 2^18 (8 MB). */
  buffer?: number
}

/**
 * Runs fn with comparison tracing on the calling thread and returns fn's
 * result and the comparisons made in the modules meanwhile. Modules: name
 * and .ko (with debug info; the loaded build). Throws KprobecovError naming
 * the fix (no KCOV, no comparisons in this kernel, thread traced already).
 */
export async function traceComparisons<T>(
  modules: ReadonlyArray<{ name: string; object: string }>, fn: () => T | Promise<T>, options: TraceComparisonsOptions = {},
): Promise<{ result: T; comparisons: ComparisonRecord[] }> {
  const loaded = modules.map((m) => ({ name: m.name.replaceAll('-', '_'), debugInfo: loadDebugInfo(m.object) }))
  const kaslr = kaslrOffset()
  const tracer = KcovTracer.open('cmp', options.path ?? DEFAULT_KCOV)
  try {
    const records = options.buffer ?? DEFAULT_CMP_BUFFER
    try {
      tracer.enableThisThread(records)
    } catch (e) {
      if (e instanceof KprobecovError && e.code === 'EBUSY') {
        throw new KprobecovError('EBUSY', `this thread is traced by KCOV already (a test run with backend 'kcov'?): comparisons need a thread of their own: collect them in a run with backend 'kprobe', or with kprobecov cmp -- CMD`)
      }
      throw e
    }
    const result = await fn()
    tracer.disableThisThread()
    const bases = loaded.map((m) => moduleSectionBases(m.name, m.debugInfo.sections.map((s) => s.name)))
    const words = new BigUint64Array(2 * Math.max(1, bases.reduce((n, b) => n + (b?.size ?? 0), 0)))
    let n = 0
    loaded.forEach((m, i) => {
      for (const s of m.debugInfo.sections) {
        const base = bases[i]?.get(s.name)
        if (base === undefined) continue
        words[2 * n] = base - kaslr
        words[2 * n + 1] = base - kaslr + BigInt(s.size)
        n++
      }
    })
    const stats = tracer.drain(words, n)
    if (stats.overflows > 0) {
      throw new KprobecovError('ENOSPC', `the comparison buffer filled up (${records} comparisons): give a larger buffer`)
    }
    return { result, comparisons: placeComparisons(tracer.takeComparisons(), loaded, bases, kaslr) }
  } finally {
    tracer.close()
  }
}
