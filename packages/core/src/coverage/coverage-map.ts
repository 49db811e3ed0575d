/**
 * Probe counters → an Istanbul CoverageMap, one FileCoverage per source file.
 *
 * The shape of a file's coverage depends only on the plan and on which probes
 * the kernel refused, never on the counts, so maps of one run (one per test
 * file) merge exactly. Istanbul merges entries by location, hence:
 * - one statement per source line, at (line, 0)–(line, LINE_END_COLUMN);
 * - a function's location is on its declaration line, column k, where k is
 *   its rank by name among the functions declared on that line (clones of one
 *   source function, e.g. foo and foo.constprop.0, are one function);
 * - a branch (a conditional jump, two arms: taken, fall-through) sits on the
 *   jump's line, column k, where k is its rank among the plan's jumps on that
 *   line. lcov read back (lcov.ts) rebuilds the same locations.
 * Counts: a line's is the largest count of the probes proving it; a function's
 * the sum over its clones' entry probes; an arm's that of its arm probe, or,
 * where the plan gives the jump's source block, fall-through = its probe and
 * taken = source - fall-through (exact at join points).
 * A line only refused probes would prove is not a statement at all (not
 * instrumented, so never "missed"), nor is a line the plan leaves silent (the
 * machine code cannot tell whether it ran): see notInstrumented.
 */
import libCoverage from 'istanbul-lib-coverage'
import type { BranchMapping, CoverageMap, FileCoverageData, FunctionMapping, Range } from 'istanbul-lib-coverage'
import path from 'node:path'
import { createRequire } from 'node:module'
import type picomatchType from 'picomatch'
import type { Plan } from '../plan/types.ts'
import { reportPath, type PathOptions } from './paths.ts'

/** picomatch, loaded when globs are given (not every process that loads this module plans or filters). */
const picomatch = (globs: string[], options: picomatchType.PicomatchOptions): ((p: string) => boolean) =>
  (createRequire(import.meta.url)('picomatch') as typeof picomatchType)(globs, options)

/** End column of a whole-line location (columns are not known; lines are). */
export const LINE_END_COLUMN = 10_000

/** The whole of one source line from column `column`. */
export function lineRange(line: number, column = 0): Range {
  return { start: { line, column }, end: { line, column: LINE_END_COLUMN } }
}

export function functionMapping(name: string, line: number, rank: number): FunctionMapping {
  return { name, decl: lineRange(line), loc: lineRange(line, rank), line }
}

export function branchMapping(line: number, rank: number, arms: number): BranchMapping {
  return {
    type: 'branch', line, loc: lineRange(line),
    locations: Array.from({ length: arms }, () => lineRange(line, rank)),
  }
}

export interface CoverageOptions extends PathOptions {
  /** Keep only files whose report path matches one of these globs (default: all). */
  include?: string[]
  /** Drop files whose report path matches one of these globs. */
  exclude?: string[]
  /** Keep files outside the root (kernel headers, say); default true. */
  allowExternal?: boolean
}

/** Hit counts indexed like plan.probes. */
export type ProbeCounts = BigUint64Array | readonly bigint[] | readonly number[]

/** Whether the kernel refused probe i (it was never planted). */
export type ProbeFailed = (probe: number) => boolean

export interface NotInstrumentedLine {
  /** Report path (relative to the root when inside it). */
  path: string
  line: number
  /**
   * Absent: the kernel refused every probe of the line. Else the line is left
   * out because the machine code cannot tell whether it ran (PlanSilentLine):
   * 'return-shared'.
   */
  reason?: 'return-shared'
}

interface FileShape {
  path: string
  /** Sorted lines; lineProbes[i] proves lines[i]. */
  lines: number[]
  lineProbes: number[][]
  functions: Array<{ name: string; line: number; rank: number; probes: number[] }>
  branches: Array<{ line: number; rank: number; arms: [number, number]; source?: number }>
}

export interface CoverageMapper {
  /** Files and lines whose every probe was refused, or that the plan leaves silent, sorted by path and line. */
  readonly notInstrumented: NotInstrumentedLine[]
  /** The coverage of these counts (same shape for any counts). */
  toCoverageMap(counts: ProbeCounts): CoverageMap
}

/**
 * Precomputes the shape of the coverage of a plan, to turn many counter
 * snapshots (one per test file) into maps cheaply.
 */
export function createCoverageMapper(
  plan: Plan, probeFailed: ProbeFailed | undefined, options: CoverageOptions,
): CoverageMapper {
  const ok = (i: number) => !(probeFailed?.(i) ?? false)
  const include = options.include?.length ? picomatch(options.include, { dot: true }) : () => true
  const exclude = options.exclude?.length ? picomatch(options.exclude, { dot: true }) : () => false
  const paths = plan.files.map((f) => {
    const p = reportPath(f, options)
    if (options.allowExternal === false && path.isAbsolute(p)) return undefined
    return f !== '' && include(p) && !exclude(p) ? p : undefined
  })

  // path → line → instrumented probes proving it
  const lineProbes = new Map<string, Map<number, number[]>>()
  const refused = new Map<string, Set<number>>()
  plan.probes.forEach((probe, i) => {
    for (const [file, line] of probe.lines) {
      const p = paths[file]
      if (p === undefined) continue
      if (!ok(i)) {
        let set = refused.get(p)
        if (!set) refused.set(p, (set = new Set()))
        set.add(line)
        continue
      }
      let byLine = lineProbes.get(p)
      if (!byLine) lineProbes.set(p, (byLine = new Map()))
      const list = byLine.get(line)
      if (list) list.push(i)
      else byLine.set(line, [i])
    }
  })

  const shapes = new Map<string, FileShape>()
  const shape = (p: string): FileShape => {
    let s = shapes.get(p)
    if (!s) shapes.set(p, (s = { path: p, lines: [], lineProbes: [], functions: [], branches: [] }))
    return s
  }
  for (const [p, byLine] of lineProbes) {
    const s = shape(p)
    s.lines = [...byLine.keys()].sort((a, b) => a - b)
    s.lineProbes = s.lines.map((l) => byLine.get(l)!)
  }

  // Functions: one per (path, declaration line, name); rank by name on the line.
  const fnGroups = new Map<string, { path: string; line: number; name: string; probes: number[] }>()
  for (const fn of plan.functions) {
    const p = paths[fn.file]
    if (p === undefined) continue
    const key = `${p}\0${fn.line}\0${fn.name}`
    let g = fnGroups.get(key)
    if (!g) fnGroups.set(key, (g = { path: p, line: fn.line, name: fn.name, probes: [] }))
    if (fn.entryProbe !== undefined && ok(fn.entryProbe)) g.probes.push(fn.entryProbe)
  }
  const byDeclLine = new Map<string, Array<{ path: string; line: number; name: string; probes: number[] }>>()
  for (const g of fnGroups.values()) {
    const key = `${g.path}\0${g.line}`
    const list = byDeclLine.get(key)
    if (list) list.push(g)
    else byDeclLine.set(key, [g])
  }
  for (const list of byDeclLine.values()) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    list.forEach((g, rank) => {
      if (g.probes.length > 0) shape(g.path).functions.push({ name: g.name, line: g.line, rank, probes: g.probes })
    })
  }

  // Branches: rank among the plan's jumps on the same line.
  const ranks = new Map<string, number>()
  for (const b of plan.branches) {
    const p = paths[b.file]
    if (p === undefined) continue
    const key = `${p}\0${b.line}`
    const rank = ranks.get(key) ?? 0
    ranks.set(key, rank + 1)
    if (!ok(b.arms[0]) || !ok(b.arms[1])) continue
    shape(p).branches.push(b.source !== undefined && ok(b.source)
      ? { line: b.line, rank, arms: b.arms, source: b.source }
      : { line: b.line, rank, arms: b.arms })
  }

  const sorted = [...shapes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (const s of sorted) {
    s.functions.sort((a, b) => a.line - b.line || a.rank - b.rank)
    s.branches.sort((a, b) => a.line - b.line || a.rank - b.rank)
  }

  const notInstrumented: NotInstrumentedLine[] = []
  for (const [p, lines] of refused) {
    const proven = lineProbes.get(p)
    for (const line of lines) if (!proven?.has(line)) notInstrumented.push({ path: p, line })
  }
  const listed = new Set(notInstrumented.map((n) => `${n.path}:${n.line}`))
  for (const sl of plan.silent ?? []) {
    const p = paths[sl.file]
    if (p === undefined || lineProbes.get(p)?.has(sl.line) === true || listed.has(`${p}:${sl.line}`)) continue
    listed.add(`${p}:${sl.line}`)
    notInstrumented.push({ path: p, line: sl.line, reason: sl.reason })
  }
  notInstrumented.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line))

  return {
    notInstrumented,
    toCoverageMap(counts: ProbeCounts): CoverageMap {
      if (counts.length !== plan.probes.length) {
        throw new Error(`${counts.length} counters for a plan of ${plan.probes.length} probes: ` +
          'the counters do not belong to this plan')
      }
      const count = (i: number): number => {
        const v = counts[i]!
        if (typeof v === 'number') return v
        return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
      }
      const map = libCoverage.createCoverageMap({})
      for (const s of sorted) map.addFileCoverage(fileCoverage(s, count))
      return map
    },
  }
}

function fileCoverage(s: FileShape, count: (i: number) => number): FileCoverageData {
  const data: FileCoverageData = { path: s.path, statementMap: {}, fnMap: {}, branchMap: {}, s: {}, f: {}, b: {} }
  s.lines.forEach((line, i) => {
    data.statementMap[i] = lineRange(line)
    let max = 0
    for (const p of s.lineProbes[i]!) max = Math.max(max, count(p))
    data.s[i] = max
  })
  s.functions.forEach((fn, i) => {
    data.fnMap[i] = functionMapping(fn.name, fn.line, fn.rank)
    let sum = 0
    for (const p of fn.probes) sum += count(p)
    data.f[i] = Math.min(sum, Number.MAX_SAFE_INTEGER)
  })
  s.branches.forEach((br, i) => {
    data.branchMap[i] = branchMapping(br.line, br.rank, 2)
    const fallthrough = count(br.arms[1])
    const taken = br.source === undefined ? count(br.arms[0]) : Math.max(0, count(br.source) - fallthrough)
    data.b[i] = [taken, fallthrough]
  })
  return data
}

/** The coverage of one counter snapshot; see createCoverageMapper for many. */
export function toCoverageMap(
  plan: Plan, counts: ProbeCounts, probeFailed: ProbeFailed | undefined, options: CoverageOptions,
): CoverageMap {
  return createCoverageMapper(plan, probeFailed, options).toCoverageMap(counts)
}

/** Lines whose every probe the kernel refused: not statements of the map. */
export function notInstrumentedLines(
  plan: Plan, probeFailed: ProbeFailed | undefined, options: CoverageOptions,
): NotInstrumentedLine[] {
  return createCoverageMapper(plan, probeFailed, options).notInstrumented
}
