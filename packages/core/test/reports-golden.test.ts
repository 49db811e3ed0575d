// The outputs of a fixed run, byte for byte against test/fixtures/run-outputs/
// (see report-fixture.ts): making the writers faster must not change a byte.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { normalise, readTree, writeFixtureRun } from './report-fixture.ts'

const EXPECTED = path.join(import.meta.dirname, 'fixtures', 'run-outputs')

test('run outputs (merged reports, per-test lcov and JSON, tests-by-line) are those of the fixture', (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'kpc-golden-'))
  t.after(() => rmSync(base, { recursive: true, force: true }))
  const { dir, printed } = writeFixtureRun(base)
  const actual = readTree(dir, base)
  const expected = readTree(EXPECTED, base)
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
