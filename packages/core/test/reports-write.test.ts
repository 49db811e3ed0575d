// Reports from a CoverageMap (istanbul-reports), and the outputs of one run, on the
// plan of FAKE debug info whose source files are written into a temporary root.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import { planProbes } from '../src/plan/plan.ts'
import { createCoverageMapper } from '../src/coverage/coverage-map.ts'
import { mergeCoverage, mergeCoverageMaps } from '../src/coverage/merge.ts'
import { writeReports } from '../src/reports/reports.ts'
import { testDir, writeRunOutputs } from '../src/reports/run-outputs.ts'
import { fakeDebugInfo } from './fake-debuginfo.ts'

const COUNTS = [5n, 3n, 2n, 4n, 4n, 0n, 1n, 0n, 1n, 1n, 2n, 3n, 6n, 0n, 6n]

/** A root with fake.c (70 numbered lines) and, outside it, include/linux/hdr.h. */
function setup(t: { after: (fn: () => void) => void }) {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kpc-reports-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const root = path.join(base, 'repo')
  const src = path.join(root, 'drv', 'fake.c')
  const hdr = path.join(base, 'include', 'linux', 'hdr.h')
  mkdirSync(path.dirname(src), { recursive: true })
  mkdirSync(path.dirname(hdr), { recursive: true })
  writeFileSync(src, Array.from({ length: 70 }, (_, i) => `\tfake_line_${i + 1}(); /* <&> */`).join('\n') + '\n')
  writeFileSync(hdr, Array.from({ length: 120 }, (_, i) => `header_line_${i + 1}`).join('\n') + '\n')
  const di = fakeDebugInfo()
  di.files = ['', src, hdr]
  const plan = planProbes([{ target: { name: 'fakemod' }, debugInfo: di }], { root })
  const mapper = createCoverageMapper(plan, (i) => i === 7, { root })
  return { base, root, hdr, plan, mapper }
}

test('every reporter writes; HTML shows the C source of relative and absolute paths', (t) => {
  const { base, root, hdr, mapper } = setup(t)
  const map = mapper.toCoverageMap(COUNTS)
  assert.deepEqual(map.files(), [hdr, 'drv/fake.c'])
  const dir = path.join(base, 'coverage')
  // The working directory is not the root: relative paths must resolve against the root.
  assert.notEqual(process.cwd(), root)
  writeReports(map, {
    dir, root,
    reporters: ['lcov', 'lcovonly', 'html', ['text', { file: 'coverage.txt' }], ['text-summary', { file: 'summary.txt' }],
      'json', 'json-summary', 'cobertura'],
    watermarks: { lines: [10, 20] },
  })
  for (const f of ['lcov.info', 'lcov-report/index.html', 'index.html', 'coverage.txt', 'summary.txt',
    'coverage-final.json', 'coverage-summary.json', 'cobertura-coverage.xml']) {
    assert.ok(existsSync(path.join(dir, f)), f)
  }
  // Istanbul lays the HTML pages out below the directory common to all files.
  const pages = readdirSync(dir, { recursive: true }).map(String)
  const html = readFileSync(path.join(dir, pages.find((f) => f.endsWith('drv/fake.c.html'))!), 'utf8')
  assert.match(html, /fake_line_62\(\); \/\* &lt;&amp;&gt; \*\//)
  assert.doesNotMatch(html, /ENOENT/)
  const hdrHtml = pages.find((f) => f.endsWith('hdr.h.html'))
  assert.ok(hdrHtml)
  assert.match(readFileSync(path.join(dir, hdrHtml), 'utf8'), /header_line_100/)
  // An uncovered line is marked, a covered one shows its count.
  assert.match(html, /<span class="cline-any cline-no">&nbsp;<\/span>/)
  assert.match(html, /<span class="cline-any cline-yes"[^>]*>6x<\/span>/)

  const lcov = readFileSync(path.join(dir, 'lcov.info'), 'utf8')
  assert.deepEqual(lcov.match(/^SF:.*$/gm), [`SF:${hdr}`, 'SF:drv/fake.c'])
  const final = JSON.parse(readFileSync(path.join(dir, 'coverage-final.json'), 'utf8')) as Record<string, unknown>
  assert.deepEqual(Object.keys(final).sort(), [hdr, 'drv/fake.c'])
  const summary = JSON.parse(readFileSync(path.join(dir, 'coverage-summary.json'), 'utf8')) as
    Record<string, { lines: { total: number; covered: number } }>
  assert.deepEqual(summary.total!.lines, { total: 21, covered: 19, skipped: 0, pct: 90.47 })
  assert.match(readFileSync(path.join(dir, 'cobertura-coverage.xml'), 'utf8'), /filename="drv\/fake\.c"/)
  assert.match(readFileSync(path.join(dir, 'summary.txt'), 'utf8'), /Lines\s+: 90.47% \( 19\/21 \)/)
  // json from the reports merges back into the same map.
  assert.deepEqual(JSON.parse(JSON.stringify(mergeCoverage([path.join(dir, 'coverage-final.json')], { root }))),
    JSON.parse(JSON.stringify(map)))
})

test('run outputs: merged reports, per-test lcov and JSON, tests-by-line', (t) => {
  const { base, root, hdr, mapper } = setup(t)
  const perTest = new Map<string, CoverageMap>([
    ['test/a.test.ts', mapper.toCoverageMap(COUNTS.map((c, i) => (i < 3 ? c : 0n)))],
    ['test/sub/b.test.ts', mapper.toCoverageMap(COUNTS.map((c, i) => (i >= 2 ? c : 0n)))],
  ])
  const merged = mergeCoverageMaps(perTest.values())
  const dir = path.join(base, 'coverage')
  writeRunOutputs({ dir, merged, perTest, reporters: ['lcovonly', 'json-summary'], root, notInstrumented: mapper.notInstrumented })
  assert.deepEqual(readdirSync(dir).sort(),
    ['coverage-summary.json', 'lcov.info', 'not-instrumented.json', 'per-test', 'tests-by-line.json'])
  for (const test of perTest.keys()) {
    for (const f of ['lcov.info', 'coverage-final.json']) assert.ok(existsSync(path.join(dir, 'per-test', test, f)), `${test}/${f}`)
  }
  const a = readFileSync(path.join(dir, 'per-test', 'test/a.test.ts', 'lcov.info'), 'utf8')
  assert.match(a, /^DA:11,5$/m)
  assert.match(a, /^DA:62,0$/m)
  const byLine = JSON.parse(readFileSync(path.join(dir, 'tests-by-line.json'), 'utf8')) as Record<string, string[]>
  assert.deepEqual(byLine['drv/fake.c:11'], ['test/a.test.ts'])
  assert.deepEqual(byLine['drv/fake.c:15'], ['test/a.test.ts', 'test/sub/b.test.ts'])
  assert.deepEqual(byLine['drv/fake.c:62'], ['test/sub/b.test.ts'])
  assert.deepEqual(byLine[`${hdr}:100`], ['test/sub/b.test.ts'])
  assert.equal(byLine['drv/fake.c:23'], undefined)
  // Sorted by file, then by line as a number.
  const keys = Object.keys(byLine)
  assert.deepEqual(keys.slice(0, 4), [`${hdr}:100`, 'drv/fake.c:11', 'drv/fake.c:12', 'drv/fake.c:13'])
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'not-instrumented.json'), 'utf8')), [{ path: 'drv/fake.c', line: 33 }])
})

test('a failed run leaves the previous outputs and no partial directory', (t) => {
  const { base, root, mapper } = setup(t)
  const dir = path.join(base, 'coverage')
  const map = mapper.toCoverageMap(COUNTS)
  writeRunOutputs({ dir, merged: map, perTest: new Map([['t.test.ts', map]]), reporters: ['lcovonly'], root })
  const before = readFileSync(path.join(dir, 'lcov.info'), 'utf8')
  assert.throws(() => writeRunOutputs({
    dir, merged: mapper.toCoverageMap(COUNTS.map(() => 0n)), perTest: new Map(),
    reporters: ['lcovonly', 'no-such-reporter' as 'text'], root,
  }))
  assert.equal(readFileSync(path.join(dir, 'lcov.info'), 'utf8'), before)
  assert.deepEqual(readdirSync(base).sort(), ['coverage', 'include', 'repo'])
  // A successful run replaces the directory as a whole.
  writeRunOutputs({ dir, merged: map, perTest: new Map(), reporters: ['json'], root })
  assert.deepEqual(readdirSync(dir).sort(), ['coverage-final.json', 'tests-by-line.json'])
  assert.deepEqual(readdirSync(base).sort(), ['coverage', 'include', 'repo'])
})

test('per-test directories stay inside per-test/', () => {
  assert.equal(testDir('test/a.test.ts'), 'test/a.test.ts')
  assert.equal(testDir('./test//a.test.ts'), 'test/a.test.ts')
  assert.equal(testDir('../other/a.test.ts'), '_outside/__/other/a.test.ts')
  assert.equal(testDir('/abs/a.test.ts'), '_outside/abs/a.test.ts')
})
