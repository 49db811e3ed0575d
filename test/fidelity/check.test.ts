// The referee: per case (test file) and merged, the lines each backend reported run and not
// run against gcov's counts of the same corpus built with GCOV_PROFILE, on the lines both
// builds carry code for. Prints a table per backend (FIDELITY.md holds the last one), and
// fails when a backend gets more lines wrong than baseline.json allows: the figures may only
// go down (lower the baseline when they do). Reads what run-in-guest.sh left:
//   FIDELITY_DIR/gcov/<case>.gcda and merged.gcda, FIDELITY_GCNO (the gcov build's notes),
//   FIDELITY_DIR/<backend>/lcov.info and per-test/cases/<case>.test.ts/lcov.info
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

const dir = process.env.FIDELITY_DIR ?? ''
const gcno = process.env.FIDELITY_GCNO ?? ''
const here = import.meta.dirname
const CASES = readdirSync(join(here, 'cases')).filter((f) => f.endsWith('.txt')).map((f) => basename(f, '.txt')).sort()
const FILES = ['fidelity.c', 'fidelity_inline.h']
const BACKENDS = ['kprobe', 'kcov'] as const

type Counts = Map<string, number> // "file:line" -> count

/** gcov's line counts for one .gcda, by source basename and line. */
function gcovCounts(gcda: string): Counts {
  const tmp = mkdtempSync(join(tmpdir(), 'kpc-fidelity-'))
  try {
    copyFileSync(gcno, join(tmp, 'fidelity.gcno'))
    copyFileSync(gcda, join(tmp, 'fidelity.gcda'))
    const json = JSON.parse(execFileSync('gcov', ['--json-format', '--stdout', 'fidelity.gcda'], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
      files: Array<{ file: string; lines: Array<{ line_number: number; count: number }> }>
    }
    const out: Counts = new Map()
    for (const f of json.files) {
      if (!FILES.includes(basename(f.file))) continue
      for (const l of f.lines) {
        const key = `${basename(f.file)}:${l.line_number}`
        out.set(key, (out.get(key) ?? 0) + l.count)
      }
    }
    return out
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** DA lines of an lcov file for the corpus' files. */
function lcovCounts(file: string): Counts {
  const out: Counts = new Map()
  let current: string | undefined
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('SF:')) current = FILES.find((f) => line.endsWith(`/${f}`) || line === `SF:${f}`)
    else if (line.startsWith('DA:') && current !== undefined) {
      const [n, c] = line.slice(3).split(',').map(Number) as [number, number]
      out.set(`${current}:${n}`, c)
    }
  }
  return out
}

interface Row { compared: number; wrongRun: string[]; wrongNotRun: string[]; onlyGcov: number; onlyMeasured: number }

function compare(truth: Counts, measured: Counts): Row {
  const row: Row = { compared: 0, wrongRun: [], wrongNotRun: [], onlyGcov: 0, onlyMeasured: 0 }
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

const baseline = JSON.parse(readFileSync(join(here, 'baseline.json'), 'utf8')) as Record<string, Record<string, { wrongRun: number; wrongNotRun: number }>>
const tables: string[] = []

for (const backend of BACKENDS) {
  test(`${backend}: every case and the merged run against gcov, no worse than the baseline`, () => {
    assert.ok(existsSync(join(dir, backend, 'lcov.info')), `${backend}: no lcov.info (see ${join(dir, `${backend}.log`)})`)
    const rows: Array<[string, Row]> = []
    for (const c of CASES) {
      rows.push([c, compare(gcovCounts(join(dir, 'gcov', `${c}.gcda`)), lcovCounts(join(dir, backend, 'per-test/cases', `${c}.test.ts`, 'lcov.info')))])
    }
    rows.push(['(merged)', compare(gcovCounts(join(dir, 'gcov', 'merged.gcda')), lcovCounts(join(dir, backend, 'lcov.info')))])
    const total = rows.reduce((a, [, r]) => ({ compared: a.compared + r.compared, wrong: a.wrong + r.wrongRun.length + r.wrongNotRun.length }), { compared: 0, wrong: 0 })
    const table = [
      `### ${backend} backend`, '',
      '| case | lines compared | wrong-run | wrong-not-run | only gcov has code | only the measured build has code |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map(([c, r]) => `| ${c} | ${r.compared} | ${r.wrongRun.length}${r.wrongRun.length ? ` (${r.wrongRun.join(', ')})` : ''} | ${r.wrongNotRun.length}${r.wrongNotRun.length ? ` (${r.wrongNotRun.join(', ')})` : ''} | ${r.onlyGcov} | ${r.onlyMeasured} |`),
      '', `Agreement: ${total.compared - total.wrong} of ${total.compared} compared lines (${(100 * (total.compared - total.wrong) / Math.max(total.compared, 1)).toFixed(1)}%).`, '',
    ].join('\n')
    tables.push(table)
    console.log(table)
    const over: string[] = []
    for (const [c, r] of rows) {
      const b = baseline[backend]?.[c] ?? { wrongRun: 0, wrongNotRun: 0 }
      if (r.wrongRun.length > b.wrongRun) over.push(`${c}: wrong-run ${r.wrongRun.length} > ${b.wrongRun} (${r.wrongRun.join(', ')})`)
      if (r.wrongNotRun.length > b.wrongNotRun) over.push(`${c}: wrong-not-run ${r.wrongNotRun.length} > ${b.wrongNotRun} (${r.wrongNotRun.join(', ')})`)
      if (r.compared === 0) over.push(`${c}: no line compared`)
    }
    assert.deepEqual(over, [])
  })
}

test('the tables are written for FIDELITY.md', () => {
  writeFileSync(join(dir, 'tables.md'), tables.join('\n'))
  assert.equal(tables.length, BACKENDS.length)
})
