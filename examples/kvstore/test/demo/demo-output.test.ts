/**
 * What `make demo` promises a newcomer, checked on its real output: `make test` runs
 * `make demo` (guest boot included), saves what it printed, then runs this file with
 *
 *   DEMO_LOG=<its output> DEMO_STATUS=<its exit status> node --test demo-output.test.ts
 *
 * It checks the summary the demo prints against the lcov it wrote, the files it names,
 * the lcov that CI uploads to Codecov (every SF path, with codecov.yml's fixes applied,
 * is a file of the repository; the workflow uploads that file), and the HTML report as
 * headless Chromium renders it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'

const root = path.resolve(import.meta.dirname, '../../../..')
const reports = 'examples/kvstore/coverage/vitest'
const log = readFileSync(requiredEnv('DEMO_LOG'), 'utf8')
const status = requiredEnv('DEMO_STATUS')

function requiredEnv(name: string): string {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set: run this file through make test`)
  return value
}

/** LF/LH, BRF/BRH, FNF/FNH summed over an lcov file's records. */
function lcovTotals(file: string): Record<string, number> {
  const totals: Record<string, number> = { LF: 0, LH: 0, BRF: 0, BRH: 0, FNF: 0, FNH: 0 }
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(LF|LH|BRF|BRH|FNF|FNH):(\d+)$/.exec(line)
    if (m) totals[m[1]] += Number(m[2])
  }
  return totals
}

/** istanbul's text-summary percentage: two decimals, truncated, trailing zeros kept. */
const percent = (hit: number, found: number): string =>
  found === 0 ? '100%' : `${(Math.floor((hit / found) * 10000) / 100).toFixed(2).replace(/\.?0+$/, '')}%`

test('make demo exits 0', () => {
  assert.equal(status, '0', 'make demo failed: see its output above')
})

test('it prints the text report with a row for the driver', () => {
  assert.match(log, /% Coverage report from kprobe/)
  assert.match(log, /^ kvstore\.c +\| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \| +[\d.]+ \| [\d,-]+/m)
})

test('its summary lines agree with the lcov it wrote', () => {
  const t = lcovTotals(path.join(root, reports, 'lcov.info'))
  assert.ok(t.LF > 0 && t.LH > 0 && t.LH < t.LF, `the suite leaves some lines uncovered on purpose: ${t.LH}/${t.LF}`)
  for (const [label, hit, found] of [
    ['Statements', t.LH, t.LF], ['Branches', t.BRH, t.BRF], ['Functions', t.FNH, t.FNF], ['Lines', t.LH, t.LF],
  ] as const) {
    const line = `${label.padEnd(13)}: ${percent(hit, found)} ( ${hit}/${found} )`
    assert.ok(log.includes(line), `expected the summary line "${line}"`)
  }
})

test('it names the reports it wrote, and they are there', () => {
  for (const [what, file] of [
    ['HTML report', `${reports}/index.html`], ['lcov', `${reports}/lcov.info`],
    ['per test file', `${reports}/per-test/`], ['tests by line', `${reports}/tests-by-line.json`],
  ]) {
    assert.match(log, new RegExp(`^demo: +${what} +${file.replaceAll('.', '\\.')}`, 'm'))
    assert.ok(existsSync(path.join(root, file)), `${file} is missing`)
  }
  for (const t of ['errors', 'stats', 'store']) {
    assert.ok(existsSync(path.join(root, reports, `per-test/test/vitest/${t}.test.ts/lcov.info`)), `no per-test lcov of ${t}.test.ts`)
  }
})

/** codecov.yml's `fixes`, as plain path prefixes "before::after" (all this repository uses). */
function codecovFixes(): Array<[string, string]> {
  const config = parse(readFileSync(path.join(root, 'codecov.yml'), 'utf8')) as { fixes?: string[] }
  return (config.fixes ?? []).map((fix) => {
    const [before, after] = fix.split('::')
    assert.ok(after !== undefined && !/[*^$\\]/.test(before), `codecov.yml: "${fix}" is not a plain prefix fix`)
    return [before, after]
  })
}

test('the lcov CI uploads names files of the repository, once codecov.yml fixes them', () => {
  const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n'))
  const fixes = codecovFixes()
  const sources = readFileSync(path.join(root, reports, 'lcov.info'), 'utf8').split('\n')
    .filter((l) => l.startsWith('SF:')).map((l) => l.slice(3))
  assert.deepEqual(sources, ['driver/kvstore.c'])
  for (const sf of sources) {
    const fix = fixes.find(([before]) => sf.startsWith(before))
    const fixed = fix ? fix[1] + sf.slice(fix[0].length) : sf
    assert.ok(tracked.has(fixed), `SF:${sf} becomes ${fixed}, which the repository does not hold`)
  }
})

test('the Codecov workflow runs make demo, uploads that lcov with a flag and keeps per-test reports', () => {
  const workflow = parse(readFileSync(path.join(root, '.github/workflows/kernel-coverage.yml'), 'utf8')) as {
    jobs: Record<string, { container?: unknown, steps: Array<{ run?: string, uses?: string, with?: Record<string, unknown> }> }>
  }
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps)
  assert.ok(steps.some((s) => s.run === 'make demo'), 'no step runs make demo')
  // A bare Debian container has no npm, which scripts/setup.sh needs to fetch Node and pnpm.
  if (Object.values(workflow.jobs).some((job) => job.container !== undefined)) {
    assert.ok(steps.some((s) => /apt-get install[^\n]*\snpm(\s|$)/.test(s.run ?? '')), 'the container gets no npm before make demo')
  }
  const upload = steps.find((s) => s.uses?.startsWith('codecov/codecov-action@'))
  assert.equal(upload?.with?.files, `${reports}/lcov.info`)
  assert.equal(upload?.with?.flags, 'kernel')
  const artifact = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))
  assert.ok(String(artifact?.with?.path).includes(reports), 'the artifact does not keep the per-test reports')
})

test('headless Chromium shows the driver source with hit and missed lines and branches', () => {
  const page = path.join(root, reports, 'kvstore.c.html')
  const dom = execFileSync('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=5000', '--dump-dom', `file://${page}`,
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 })
  const count = (re: RegExp): number => dom.match(re)?.length ?? 0
  const t = lcovTotals(path.join(root, reports, 'lcov.info'))
  assert.match(dom, /<span class="kwd">static<\/span>/, "the page's scripts did not run (prettify colours the C keywords)")
  assert.match(dom, /kvstore_find/)
  assert.equal(count(/class="cline-any cline-yes"/g), t.LH, 'lines shown as hit')
  assert.equal(count(/class="cline-any cline-no"/g), t.LF - t.LH, 'lines shown as missed')
  assert.ok(count(/class="branch-\d+ cbranch-no"/g) > 0, 'no branch shown as not taken')
})
