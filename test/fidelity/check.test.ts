// The referee: per case (test file) and merged, the lines each backend reported run and not
// run, and the branch arms it reported taken and not taken, against gcov's counts of the same
// corpus built with GCOV_PROFILE, on the lines both builds carry code (branches) for. Prints
// a table per backend for lines and one for branches (FIDELITY.md holds the last ones), and
// fails when a backend gets more wrong than baseline.json allows: the figures may only go
// down (lower the baseline when they do). Reads what run-in-guest.sh left:
//   FIDELITY_DIR/gcov/<case>/*.gcda and gcov/merged/*.gcda, FIDELITY_GCNO (the directory of
//   the gcov build's notes), FIDELITY_DIR/<backend>/lcov.info, not-instrumented.json and
//   per-test/cases/<case>.test.ts/lcov.info
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

const dir = process.env.FIDELITY_DIR ?? ''
const gcnoDir = process.env.FIDELITY_GCNO ?? ''
const here = import.meta.dirname
const CASES = readdirSync(join(here, 'cases')).filter((f) => f.endsWith('.txt')).map((f) => basename(f, '.txt')).sort()
const FILES = ['fidelity.c', 'fidelity_inline.h', 'fidelity_os.c']
const BACKENDS = ['kprobe', 'kcov'] as const

type Counts = Map<string, number> // "file:line" -> count
type Arms = Map<string, number[]> // "file:line" -> the count of each arm on that line

interface GcovLine { line_number: number; count: number; branches?: Array<{ count: number; throw?: boolean }> }

const gcovCache = new Map<string, { lines: Counts; arms: Arms }>()

/** gcov's line counts and branch arcs (throws left out) for the .gcda files of one directory. */
function gcovData(gcdaDir: string): { lines: Counts; arms: Arms } {
  const cached = gcovCache.get(gcdaDir)
  if (cached) return cached
  const data = readGcov(gcdaDir)
  gcovCache.set(gcdaDir, data)
  return data
}

function readGcov(gcdaDir: string): { lines: Counts; arms: Arms } {
  const lines: Counts = new Map()
  const arms: Arms = new Map()
  const tmp = mkdtempSync(join(tmpdir(), 'kpc-fidelity-'))
  try {
    for (const gcda of readdirSync(gcdaDir).filter((f) => f.endsWith('.gcda'))) {
      const object = basename(gcda, '.gcda')
      copyFileSync(join(gcnoDir, `${object}.gcno`), join(tmp, `${object}.gcno`))
      copyFileSync(join(gcdaDir, gcda), join(tmp, gcda))
      const json = JSON.parse(execFileSync('gcov', ['--json-format', '--stdout', '--branch-probabilities', gcda], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
        files: Array<{ file: string; lines: GcovLine[] }>
      }
      for (const f of json.files) {
        if (!FILES.includes(basename(f.file))) continue
        for (const l of f.lines) {
          const key = `${basename(f.file)}:${l.line_number}`
          lines.set(key, (lines.get(key) ?? 0) + l.count)
          const b = (l.branches ?? []).filter((x) => x.throw !== true).map((x) => x.count)
          if (b.length > 0) {
            const old = arms.get(key)
            arms.set(key, old && old.length === b.length ? old.map((c, i) => c + b[i]!) : old ? [...old, ...b] : b)
          }
        }
      }
    }
    return { lines, arms }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** DA lines and BRDA arms of an lcov file for the corpus' files. */
function lcovData(file: string): { lines: Counts; arms: Arms } {
  const lines: Counts = new Map()
  const arms: Arms = new Map()
  let current: string | undefined
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('SF:')) current = FILES.find((f) => line.endsWith(`/${f}`) || line === `SF:${f}`)
    else if (line.startsWith('DA:') && current !== undefined) {
      const [n, c] = line.slice(3).split(',').map(Number) as [number, number]
      lines.set(`${current}:${n}`, c)
    } else if (line.startsWith('BRDA:') && current !== undefined) {
      const [n, , , taken] = line.slice(5).split(',')
      const key = `${current}:${n}`
      arms.set(key, [...(arms.get(key) ?? []), taken === '-' ? 0 : Number(taken)])
    }
  }
  return { lines, arms }
}

/** Lines of the corpus a backend's report leaves out because the machine code cannot tell. */
function leftOut(backend: string): number {
  const file = join(dir, backend, 'not-instrumented.json')
  if (!existsSync(file)) return 0
  const list = JSON.parse(readFileSync(file, 'utf8')) as Array<{ path: string; reason?: string }>
  return list.filter((l) => l.reason !== undefined && FILES.includes(basename(l.path))).length
}

interface Row { compared: number; wrongRun: string[]; wrongNotRun: string[]; onlyGcov: number; onlyMeasured: number; leftOut: number }
interface BranchRow { lines: number; arms: number; wrongTaken: string[]; wrongNotTaken: string[]; onlyGcov: number; onlyMeasured: number }

function compare(truth: Counts, measured: Counts): Row {
  const row: Row = { compared: 0, wrongRun: [], wrongNotRun: [], onlyGcov: 0, onlyMeasured: 0, leftOut: 0 }
  for (const [key, t] of truth) {
    const m = measured.get(key)
    if (m === undefined) { row.onlyGcov++; continue }
    row.compared++
    if (m > 0 && t === 0) row.wrongRun.push(key)
    if (m === 0 && t > 0) row.wrongNotRun.push(key)
  }
  for (const key of measured.keys()) if (!truth.has(key)) row.onlyMeasured++
  return row
}

/**
 * Branches, per line both report arms for. Machine jumps and gcov's arcs need not pair one to
 * one (a rotated loop tests its condition twice; `a || b` is one jump or two), so a line is
 * compared by how many ways it went, counted up to two: arms (arcs) with a count. A line the
 * report says went more ways than gcov counts is `wrong-taken` (an arm reported taken that
 * gcov says was not: precision); one gcov says went more ways than the report, where the
 * report has two arms or more there, `wrong-not-taken` (recall).
 */
function compareBranches(truth: Arms, measured: Arms): BranchRow {
  const row: BranchRow = { lines: 0, arms: 0, wrongTaken: [], wrongNotTaken: [], onlyGcov: 0, onlyMeasured: 0 }
  const ways = (arms: number[]) => Math.min(2, arms.filter((c) => c > 0).length)
  for (const [key, t] of truth) {
    const m = measured.get(key)
    if (m === undefined) { row.onlyGcov++; continue }
    row.lines++
    row.arms += m.length
    if (ways(m) > ways(t)) row.wrongTaken.push(key)
    if (ways(m) < ways(t) && m.length >= 2) row.wrongNotTaken.push(key)
  }
  for (const key of measured.keys()) if (!truth.has(key)) row.onlyMeasured++
  return row
}

interface Baseline {
  lines: Record<string, Record<string, { wrongRun: number; wrongNotRun: number }>>
  branches: Record<string, Record<string, { wrongTaken: number; wrongNotTaken: number }>>
}
const baseline = JSON.parse(readFileSync(join(here, 'baseline.json'), 'utf8')) as Baseline
const tables: string[] = []
const list = (keys: string[]) => `${keys.length}${keys.length ? ` (${[...new Set(keys)].join(', ')})` : ''}`
const pct = (part: number, whole: number) => (whole === 0 ? '-' : (part / whole).toFixed(4))

for (const backend of BACKENDS) {
  test(`${backend}: every case and the merged run against gcov, lines and branches, no worse than the baseline`, () => {
    assert.ok(existsSync(join(dir, backend, 'lcov.info')), `${backend}: no lcov.info (see ${join(dir, `${backend}.log`)})`)
    const rows: Array<[string, Row, BranchRow]> = []
    const silent = leftOut(backend)
    for (const c of [...CASES, '(merged)']) {
      const truth = gcovData(join(dir, 'gcov', c === '(merged)' ? 'merged' : c))
      const measured = lcovData(c === '(merged)' ? join(dir, backend, 'lcov.info') : join(dir, backend, 'per-test/cases', `${c}.test.ts`, 'lcov.info'))
      rows.push([c, { ...compare(truth.lines, measured.lines), leftOut: silent }, compareBranches(truth.arms, measured.arms)])
    }
    const total = rows.reduce((a, [, r]) => ({
      compared: a.compared + r.compared, wrongRun: a.wrongRun + r.wrongRun.length, wrongNotRun: a.wrongNotRun + r.wrongNotRun.length,
    }), { compared: 0, wrongRun: 0, wrongNotRun: 0 })
    const btotal = rows.reduce((a, [, , r]) => ({
      lines: a.lines + r.lines, wrongTaken: a.wrongTaken + r.wrongTaken.length, wrongNotTaken: a.wrongNotTaken + r.wrongNotTaken.length,
    }), { lines: 0, wrongTaken: 0, wrongNotTaken: 0 })
    const table = [
      `### ${backend} backend: lines`, '',
      '| case | lines compared | wrong-run | wrong-not-run | left out (undecidable) | only gcov has code | only the measured build has code |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(([c, r]) => `| ${c} | ${r.compared} | ${list(r.wrongRun)} | ${list(r.wrongNotRun)} | ${r.leftOut} | ${r.onlyGcov} | ${r.onlyMeasured} |`),
      '', `Lines, all rows: ${total.compared} compared, precision ${pct(total.compared - total.wrongRun, total.compared)}, ` +
        `recall ${pct(total.compared - total.wrongNotRun, total.compared)} (${total.compared - total.wrongRun - total.wrongNotRun} agree).`, '',
      `### ${backend} backend: branches`, '',
      '| case | lines compared | reported arms on them | wrong-taken | wrong-not-taken | lines only gcov has arcs on | lines only the report has arms on |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(([c, , b]) => `| ${c} | ${b.lines} | ${b.arms} | ${list(b.wrongTaken)} | ${list(b.wrongNotTaken)} | ${b.onlyGcov} | ${b.onlyMeasured} |`),
      '', `Branches, all rows: ${btotal.lines} lines compared, ${btotal.wrongTaken} wrong-taken, ${btotal.wrongNotTaken} wrong-not-taken.`, '',
    ].join('\n')
    tables.push(table)
    console.log(table)
    const over: string[] = []
    for (const [c, r, b] of rows) {
      const bl = baseline.lines[backend]?.[c] ?? { wrongRun: 0, wrongNotRun: 0 }
      const bb = baseline.branches[backend]?.[c] ?? { wrongTaken: 0, wrongNotTaken: 0 }
      if (r.wrongRun.length > bl.wrongRun) over.push(`${c}: wrong-run ${r.wrongRun.length} > ${bl.wrongRun} (${r.wrongRun.join(', ')})`)
      if (r.wrongNotRun.length > bl.wrongNotRun) over.push(`${c}: wrong-not-run ${r.wrongNotRun.length} > ${bl.wrongNotRun} (${r.wrongNotRun.join(', ')})`)
      if (b.wrongTaken.length > bb.wrongTaken) over.push(`${c}: wrong-taken ${b.wrongTaken.length} > ${bb.wrongTaken} (${b.wrongTaken.join(', ')})`)
      if (b.wrongNotTaken.length > bb.wrongNotTaken) over.push(`${c}: wrong-not-taken ${b.wrongNotTaken.length} > ${bb.wrongNotTaken} (${b.wrongNotTaken.join(', ')})`)
      if (r.compared === 0) over.push(`${c}: no line compared`)
    }
    assert.deepEqual(over, [])
  })
}

test('the tables are written for FIDELITY.md', () => {
  writeFileSync(join(dir, 'tables.md'), tables.join('\n'))
  assert.equal(tables.length, BACKENDS.length)
})
