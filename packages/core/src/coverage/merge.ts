/**
 * Merging coverage from files: lcov tracefiles (from other shards or tools)
 * and Istanbul JSON (coverage-final.json).
 *
 * Istanbul merges a file's entries by location and adds their counts. lcov
 * carries lines, not columns, so lcov.ts reads it in kprobecov's shape (one
 * statement per line, functions and branches ranked on their line): lcov and
 * the Istanbul JSON that kprobecov writes merge exactly, entry for entry.
 * Istanbul JSON of JavaScript code (statements with real columns) merges with
 * lcov of the same file only approximately: Istanbul adds an unmatched entry's
 * hits to the narrowest entry of the other side that contains it, so a line
 * statement from lcov and the column-exact statements on that line count each
 * other's hits. Mixing the two for one file is best avoided.
 * Paths: absolute paths inside the root (after `sourceRoot`) become relative;
 * relative paths are taken as relative to the root.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import libCoverage from 'istanbul-lib-coverage'
import type { CoverageMap, CoverageMapData, FileCoverage, FileCoverageData, Range } from 'istanbul-lib-coverage'
import { lcovToCoverageMap } from './lcov.ts'
import { normaliseReportPath, reportPath, type PathOptions } from './paths.ts'

/**
 * Merges maps into a new one. Unlike CoverageMap.merge, which keeps and later
 * mutates the other map's file objects, the inputs are left untouched. Files
 * of the same shape (entries at the same locations in the same order, as all
 * maps of one plan are) have their counts added directly; others are merged
 * by Istanbul, by location.
 */
export function mergeCoverageMaps(maps: Iterable<CoverageMap | CoverageMapData>): CoverageMap {
  const files = new Map<string, FileCoverageData>()
  for (const m of maps) {
    const data = (typeof (m as CoverageMap).toJSON === 'function' ? (m as CoverageMap).toJSON() : m) as
      Record<string, FileCoverageData | FileCoverage>
    for (const [key, value] of Object.entries(data)) {
      const fc = plain(value)
      const file = fc.path ?? key
      const mine = files.get(file)
      if (!mine) files.set(file, clonePlain(fc))
      else if (sameShape(mine, fc)) addCounts(mine, fc)
      else {
        const merged = libCoverage.createFileCoverage(mine)
        merged.merge(libCoverage.createFileCoverage(clonePlain(fc)))
        files.set(file, canonical(merged.toJSON() as FileCoverageData))
      }
    }
  }
  return libCoverage.createCoverageMap(Object.fromEntries(files))
}

/**
 * A deep copy of JSON-like data (plain objects, arrays, primitives), keys in
 * the same order: what structuredClone gives for coverage data, at a fraction
 * of its cost for the many small objects of a map (~50 ms for the 1.4 MB of
 * a 6,000-line module, against a few ms).
 */
function clonePlain<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(clonePlain) as T
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) {
    const value = clonePlain((v as Record<string, unknown>)[k])
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true })
    else out[k] = value
  }
  return out as T
}

/**
 * Entries re-keyed in location order (Istanbul's merge appends entries only
 * the second map had): lcov then numbers the branches of a line in the order
 * of their ranks, as lcov.ts reads them.
 */
function canonical(fc: FileCoverageData): FileCoverageData {
  const out: FileCoverageData = { path: fc.path, statementMap: {}, fnMap: {}, branchMap: {}, s: {}, f: {}, b: {} }
  const order = <T>(map: Record<string, T>, loc: (x: T) => Range) =>
    Object.keys(map).sort((x, y) => compareRange(loc(map[x]!), loc(map[y]!)))
  order(fc.statementMap, (r) => r).forEach((k, i) => {
    out.statementMap[i] = fc.statementMap[k]!
    out.s[i] = fc.s[k]!
  })
  order(fc.fnMap, (f) => f.loc).forEach((k, i) => {
    out.fnMap[i] = fc.fnMap[k]!
    out.f[i] = fc.f[k]!
  })
  order(fc.branchMap, (b) => b.locations[0] ?? b.loc).forEach((k, i) => {
    out.branchMap[i] = fc.branchMap[k]!
    out.b[i] = fc.b[k]!
  })
  return out
}

function compareRange(a: Range, b: Range): number {
  return a.start.line - b.start.line || a.start.column - b.start.column ||
    a.end.line - b.end.line || a.end.column - b.end.column
}

function plain(fc: FileCoverageData | FileCoverage): FileCoverageData {
  const f = fc as Partial<FileCoverage>
  return typeof f.toJSON === 'function' ? (f.toJSON() as FileCoverageData) : (fc as FileCoverageData)
}

function sameRange(a: Range | undefined, b: Range | undefined): boolean {
  return a !== undefined && b !== undefined && a.start.line === b.start.line && a.start.column === b.start.column &&
    a.end.line === b.end.line && a.end.column === b.end.column
}

function sameKeys(a: object, b: object): string[] | undefined {
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return undefined
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return undefined
  return ka
}

function sameShape(a: FileCoverageData, b: FileCoverageData): boolean {
  const sk = sameKeys(a.statementMap, b.statementMap)
  const fk = sameKeys(a.fnMap, b.fnMap)
  const bk = sameKeys(a.branchMap, b.branchMap)
  if (!sk || !fk || !bk) return false
  if (!sameKeys(a.s, b.s) || !sameKeys(a.f, b.f) || !sameKeys(a.b, b.b)) return false
  for (const k of sk) if (!sameRange(a.statementMap[k], b.statementMap[k])) return false
  for (const k of fk) {
    const x = a.fnMap[k]!
    const y = b.fnMap[k]!
    if (x.name !== y.name || !sameRange(x.loc, y.loc) || !sameRange(x.decl, y.decl)) return false
  }
  for (const k of bk) {
    const x = a.branchMap[k]!
    const y = b.branchMap[k]!
    if (x.type !== y.type || x.locations.length !== y.locations.length || !sameRange(x.loc, y.loc)) return false
    for (let i = 0; i < x.locations.length; i++) if (!sameRange(x.locations[i], y.locations[i])) return false
    if (a.b[k]!.length !== b.b[k]!.length) return false
  }
  return true
}

function addCounts(into: FileCoverageData, from: FileCoverageData): void {
  for (const k of Object.keys(into.s)) into.s[k] = into.s[k]! + from.s[k]!
  for (const k of Object.keys(into.f)) into.f[k] = into.f[k]! + from.f[k]!
  for (const k of Object.keys(into.b)) {
    const arms = into.b[k]!
    const other = from.b[k]!
    for (let i = 0; i < arms.length; i++) arms[i] = arms[i]! + other[i]!
  }
}

/** Istanbul JSON text (a CoverageMap's data, keyed by path) → CoverageMap. */
export function istanbulJsonToCoverageMap(text: string, options: PathOptions, source = 'JSON'): CoverageMap {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${source}: not Istanbul coverage JSON (expected an object keyed by file path)`)
  }
  const map = libCoverage.createCoverageMap({})
  for (const [key, value] of Object.entries(parsed as Record<string, FileCoverageData>)) {
    const file = value as Partial<FileCoverageData> | null
    if (!file || typeof file !== 'object' || !file.statementMap || !file.fnMap || !file.branchMap ||
        !file.s || !file.f || !file.b) {
      throw new Error(`${source}: the entry '${key}' is not Istanbul file coverage`)
    }
    const p = file.path ?? key
    const reported = path.isAbsolute(p) ? reportPath(p, options) : normaliseReportPath(p, options.root)
    map.addFileCoverage({ ...(file as FileCoverageData), path: reported })
  }
  return map
}

/**
 * Merges lcov tracefiles and Istanbul JSON files into one CoverageMap. A file
 * whose content starts with `{` is Istanbul JSON, anything else lcov. An
 * unreadable or malformed file is an error naming it. Paths are made relative
 * to options.root (default: the working directory).
 */
export function mergeCoverage(files: readonly string[], options: PathOptions = { root: process.cwd() }): CoverageMap {
  const maps: CoverageMap[] = []
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    if (text.trimStart().startsWith('{')) {
      maps.push(istanbulJsonToCoverageMap(text, options, file))
    } else {
      try {
        maps.push(lcovToCoverageMap(text, options))
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`)
      }
    }
  }
  return mergeCoverageMaps(maps)
}
