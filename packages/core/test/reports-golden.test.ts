// The outputs of a fixed run, byte for byte against test/fixtures/run-outputs/
// (see report-fixture.ts): making the writers faster must not change a byte. The html
// reports' static files are istanbul-reports' own, checked against its copies.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { HTML_ASSETS, normalise, readTree, withoutAssets, writeFixtureRun } from './report-fixture.ts'

const EXPECTED = path.join(import.meta.dirname, 'fixtures', 'run-outputs')

test('run outputs (merged reports, per-test lcov and JSON, tests-by-line) are those of the fixture', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kpc-golden-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const { dir, printed } = writeFixtureRun(base)
  const { pages: actual, assets } = withoutAssets(readTree(dir, base))
  const expected = readTree(EXPECTED, base)
  const istanbulAssets = path.join(path.dirname(createRequire(import.meta.url).resolve('istanbul-reports/package.json')), 'lib/html/assets')
  assert.deepEqual([...assets.keys()].sort(), ['html', 'lcov-report'].flatMap((d) => Object.keys(HTML_ASSETS).map((a) => `${d}/${a}`)).sort())
  for (const [f, text] of assets) {
    // istanbul-reports heads the scripts it copies with this line (lib/html/index.js).
    const header = f.endsWith('.js') ? '/* eslint-disable */\n' : ''
    assert.equal(text, header + readFileSync(path.join(istanbulAssets, HTML_ASSETS[path.basename(f)]!), 'latin1'), f)
  }
  assert.deepEqual([...actual.keys()], [...expected.keys()])
  for (const [f, text] of expected) assert.equal(actual.get(f), text, f)
  assert.equal(normalise(printed, base), readFileSync(`${EXPECTED}.console.txt`, 'utf8'), 'console reporters')
  // The fixture covers what the front ends write.
  for (const f of ['lcov.info', 'coverage-final.json', 'tests-by-line.json', 'not-instrumented.json', 'html/index.html',
    'per-test/test/a.test.ts/lcov.info', 'per-test/test/sub/b.test.ts/coverage-final.json',
    'per-test/_outside/__/elsewhere/c.test.ts/lcov.info']) {
    assert.ok(expected.has(f), f)
  }
})
