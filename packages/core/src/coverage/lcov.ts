/**
 * Reading lcov tracefiles (geninfo's format; also what other kprobecov shards
 * and other tools write) into Istanbul coverage, with lcov-parse.
 *
 * lcov-parse 1.0.0 gets some lcov wrong, so its input is normalised first:
 * - three-field `FN:start,end,name` (lcov 2) would give the function the name
 *   `end`: rewritten to `FN:start,name`;
 * - `FNL:index,start[,end]` + `FNA:index,count,name` (lcov 2.2) are ignored:
 *   rewritten to `FN:start,name` + `FNDA:count,name`;
 * - a last record without `end_of_record` is dropped: one is appended;
 * - `BRDA:…,-` (the block was never reached) is read as 0 taken, which is
 *   what Istanbul counts for it; an exception block `e3` loses its `e`.
 * lcov is line-based: the result has one statement per DA line and functions
 * and branches at the locations coverage-map.ts gives them, so it merges
 * exactly with the Istanbul JSON kprobecov writes.
 *
 * Decision: keep lcov-parse, with the normaliser above. Weighed against:
 * - lcov-parse 1.0.0: frozen since its last release, no dependencies, about
 *   three million installs a month; its record shape is the one other tools
 *   copy and the one core exports (LcovRecord, parseLcov). What it misreads
 *   is the lcov 2 syntax listed above, fixed here text to text, each case
 *   pinned by a test against lcov-parse as is (test/lcov-parse.test.ts).
 *   Left as it is: DA's checksum field is ignored (as we want), FNDA counts
 *   for the first FN of that name, and names are cut at a comma (C function
 *   names have none).
 * - @friedemannsommer/lcov-parser 5.0.2: maintained (majors 3 to 5 since
 *   December 2024), no dependencies, reads FNL/FNA, BRDA `-` and `e`, DA
 *   checksums and a last record without end_of_record natively. Not taken: a
 *   single maintainer and ~1k installs a month against lcov-parse's millions,
 *   a record shape of its own (path, instrumented, hit, branch as text) that
 *   would change core's exported LcovRecord, and it guesses two- or
 *   three-field FN from the numbers (a name is cut at a comma there too); the
 *   adapter would be as long as the normaliser it replaces.
 * - parse-lcov 1.0.4: lcov 1 only (no FNL/FNA), so the normaliser would stay.
 * - Our own parser: the normaliser is half of one already, and it would drop
 *   the dependency; worth it if a fifth workaround is ever needed, not for
 *   the four above.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import libCoverage from 'istanbul-lib-coverage'
import type { CoverageMap, FileCoverageData } from 'istanbul-lib-coverage'
import { branchMapping, functionMapping, lineRange } from './coverage-map.ts'
import { normaliseReportPath, reportPath, type PathOptions } from './paths.ts'

/** A record as lcov-parse returns it. */
export interface LcovRecord {
  title?: string
  file: string
  lines: { found: number; hit: number; details: Array<{ line: number; hit: number }> }
  functions: { found: number; hit: number; details: Array<{ name: string; line: number; hit?: number }> }
  branches: {
    found: number; hit: number
    details: Array<{ line: number; block: number; branch: number; taken: number }>
  }
}

type WalkFile = (text: string, cb: (err: unknown, data?: LcovRecord[]) => void) => void
/** lcov-parse, loaded when lcov is read (merging other tools' tracefiles), not by every process that loads kprobecov. */
const lcovParse = () => createRequire(import.meta.url)('lcov-parse') as { source: WalkFile }

/** Rewrites lcov that lcov-parse would misread into lcov it reads correctly. */
export function normaliseLcov(text: string): string {
  const out: string[] = []
  let fnl = new Map<string, string>()
  let fna: Array<{ index: string; count: string; name: string }> = []
  const flushFunctions = () => {
    for (const { index, count, name } of fna) {
      const line = fnl.get(index)
      if (line === undefined) continue
      out.push(`FN:${line},${name}`, `FNDA:${count},${name}`)
    }
    fnl = new Map()
    fna = []
  }
  let open = false
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '') continue
    let m: RegExpExecArray | null
    if ((m = /^FN:(\d+),(\d+),(.*)$/.exec(line))) {
      out.push(`FN:${m[1]},${m[3]}`)
    } else if ((m = /^FNL:([^,]+),(\d+)(?:,\d+)?$/.exec(line))) {
      fnl.set(m[1]!, m[2]!)
    } else if ((m = /^FNA:([^,]+),([^,]+),(.*)$/.exec(line))) {
      fna.push({ index: m[1]!, count: m[2]!, name: m[3]! })
    } else if ((m = /^BRDA:([^,]*),e(\d+),(.*)$/.exec(line))) {
      out.push(`BRDA:${m[1]},${m[2]},${m[3]}`)
    } else if (line === 'end_of_record') {
      flushFunctions()
      out.push(line)
      open = false
      continue
    } else {
      out.push(line)
    }
    open = true
  }
  if (open) {
    flushFunctions()
    out.push('end_of_record')
  }
  return out.join('\n') + '\n'
}

/** Parses lcov text (normalised first) into lcov-parse's records; none for empty input. */
export function parseLcov(text: string): LcovRecord[] {
  const normalised = normaliseLcov(text)
  if (!/^end_of_record$/m.test(normalised)) return []
  let result: LcovRecord[] = []
  let error: unknown
  // lcov-parse's walkFile calls back synchronously.
  lcovParse().source(normalised, (err, data) => {
    if (err) error = err
    else result = data ?? []
  })
  if (error !== undefined) throw new Error(`lcov: ${String(error)}`)
  return result
}

export type LcovReadOptions = PathOptions

/** One record's coverage, in kprobecov's one-statement-per-line shape. */
export function lcovRecordToFileCoverage(record: LcovRecord, options: LcovReadOptions): FileCoverageData {
  const file = path.isAbsolute(record.file)
    ? reportPath(record.file, options)
    : normaliseReportPath(record.file, options.root)
  const data: FileCoverageData = { path: file, statementMap: {}, fnMap: {}, branchMap: {}, s: {}, f: {}, b: {} }

  const lines = new Map<number, number>()
  for (const { line, hit } of record.lines.details) {
    if (!(line > 0)) continue
    lines.set(line, (lines.get(line) ?? 0) + (Number.isFinite(hit) && hit > 0 ? hit : 0))
  }
  ;[...lines.keys()].sort((a, b) => a - b).forEach((line, i) => {
    data.statementMap[i] = lineRange(line)
    data.s[i] = lines.get(line)!
  })

  const fns = new Map<number, Map<string, number>>()
  for (const { name, line, hit } of record.functions.details) {
    if (!(line > 0) || name === undefined) continue
    let byName = fns.get(line)
    if (!byName) fns.set(line, (byName = new Map()))
    byName.set(name, (byName.get(name) ?? 0) + (hit !== undefined && Number.isFinite(hit) && hit > 0 ? hit : 0))
  }
  let f = 0
  for (const line of [...fns.keys()].sort((a, b) => a - b)) {
    const byName = fns.get(line)!
    const names = [...byName.keys()].sort()
    names.forEach((name, rank) => {
      data.fnMap[f] = functionMapping(name, line, rank)
      data.f[f] = byName.get(name)!
      f++
    })
  }

  // Branches: blocks of a line in order of appearance; arms by branch number.
  const blocks = new Map<number, Map<string, Map<string, number>>>()
  for (const { line, block, branch, taken } of record.branches.details) {
    if (!(line > 0)) continue
    let byBlock = blocks.get(line)
    if (!byBlock) blocks.set(line, (byBlock = new Map()))
    let arms = byBlock.get(String(block))
    if (!arms) byBlock.set(String(block), (arms = new Map()))
    const arm = Number.isNaN(branch) ? `#${arms.size}` : String(branch)
    arms.set(arm, (arms.get(arm) ?? 0) + (Number.isFinite(taken) && taken > 0 ? taken : 0))
  }
  let b = 0
  for (const line of [...blocks.keys()].sort((x, y) => x - y)) {
    let rank = 0
    for (const arms of blocks.get(line)!.values()) {
      data.branchMap[b] = branchMapping(line, rank, arms.size)
      data.b[b] = [...arms.entries()].sort(byArm).map(([, taken]) => taken)
      b++
      rank++
    }
  }
  return data
}

function byArm([a]: [string, number], [b]: [string, number]): number {
  const x = a.startsWith('#') ? NaN : Number(a)
  const y = b.startsWith('#') ? NaN : Number(b)
  return Number.isNaN(x) || Number.isNaN(y) ? 0 : x - y
}

/** lcov text → CoverageMap (records of one file are merged). */
export function lcovToCoverageMap(text: string, options: LcovReadOptions): CoverageMap {
  const map = libCoverage.createCoverageMap({})
  for (const record of parseLcov(text)) {
    map.addFileCoverage(lcovRecordToFileCoverage(record, options))
  }
  return map
}
