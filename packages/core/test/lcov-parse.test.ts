// lcov: what we write follows geninfo's format and lcov-parse reads it back exactly;
// lcov from elsewhere that lcov-parse 1.0.0 misreads is normalised first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import { planProbes } from '../src/plan/plan.ts'
import { toCoverageMap } from '../src/coverage/coverage-map.ts'
import { lcovToCoverageMap, normaliseLcov, parseLcov, type LcovRecord } from '../src/coverage/lcov.ts'
import { mergeCoverage, mergeCoverageMaps } from '../src/coverage/merge.ts'
import { writeReports } from '../src/reports/reports.ts'
import { FAKE_ROOT, fakeDebugInfo } from './fake-debuginfo.ts'

const rawParse = (createRequire(import.meta.url)('lcov-parse') as {
  source: (text: string, cb: (err: unknown, data?: LcovRecord[]) => void) => void
}).source
function lcovParseAsIs(text: string): LcovRecord[] {
  let out: LcovRecord[] = []
  rawParse(text, (err, data) => { out = err ? [] : data ?? [] })
  return out
}

const plan = planProbes([{ target: { name: 'fakemod', granularity: 'branch' }, debugInfo: fakeDebugInfo() }], { root: FAKE_ROOT })
const COUNTS = [5n, 3n, 2n, 4n, 4n, 0n, 1n, 0n, 1n, 1n, 2n, 3n, 6n, 0n, 6n]
const json = (m: CoverageMap) => JSON.parse(JSON.stringify(m)) as unknown

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kpc-lcov-'))
  try {
    fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function writtenLcov(map: CoverageMap): string {
  let text = ''
  withTmp((dir) => {
    writeReports(map, { dir, reporters: ['lcovonly'], root: FAKE_ROOT })
    text = readFileSync(path.join(dir, 'lcov.info'), 'utf8')
  })
  return text
}

test('the lcov we write follows geninfo\'s tracefile format', () => {
  const text = writtenLcov(toCoverageMap(plan, COUNTS, undefined, { root: FAKE_ROOT }))
  const grammar: Array<[string, RegExp]> = [
    ['TN', /^TN:[^\n]*$/], ['SF', /^SF:.+$/], ['FN', /^FN:\d+,[^,]+$/], ['FNDA', /^FNDA:\d+,[^,]+$/],
    ['FNF', /^FNF:\d+$/], ['FNH', /^FNH:\d+$/], ['DA', /^DA:\d+,\d+$/], ['LF', /^LF:\d+$/], ['LH', /^LH:\d+$/],
    ['BRDA', /^BRDA:\d+,\d+,\d+,(\d+|-)$/], ['BRF', /^BRF:\d+$/], ['BRH', /^BRH:\d+$/],
    ['end_of_record', /^end_of_record$/],
  ]
  assert.ok(text.endsWith('end_of_record\n'))
  const records = text.trimEnd().split(/^end_of_record$/m).filter((r) => r.trim() !== '')
  assert.equal(records.length, 2)
  for (const record of records) {
    const lines = record.trim().split('\n')
    const tags = new Map<string, string[]>()
    for (const line of lines) {
      const rule = grammar.find(([tag]) => line.startsWith(`${tag}:`) || line === tag)
      assert.ok(rule, `unknown line ${line}`)
      assert.match(line, rule[1])
      tags.set(rule[0], [...(tags.get(rule[0]) ?? []), line.slice(rule[0].length + 1)])
    }
    const n = (tag: string) => Number(tags.get(tag)?.[0])
    const list = (tag: string) => tags.get(tag) ?? []
    assert.equal(list('TN').length, 1)
    assert.equal(list('SF').length, 1)
    assert.equal(n('FNF'), list('FN').length)
    assert.equal(list('FNDA').length, list('FN').length)
    assert.equal(n('FNH'), list('FNDA').filter((v) => !v.startsWith('0,')).length)
    assert.equal(n('LF'), list('DA').length)
    assert.equal(n('LH'), list('DA').filter((v) => !v.endsWith(',0')).length)
    assert.equal(n('BRF'), list('BRDA').length)
    assert.equal(n('BRH'), list('BRDA').filter((v) => !/,(0|-)$/.test(v)).length)
    // FNDA names a function of an FN line; DA lines are unique.
    const fnNames = new Set(list('FN').map((v) => v.split(',')[1]))
    for (const v of list('FNDA')) assert.ok(fnNames.has(v.split(',')[1]), v)
    assert.equal(new Set(list('DA').map((v) => v.split(',')[0])).size, list('DA').length)
  }
  // Paths: relative to the root inside it, absolute outside.
  assert.deepEqual(text.match(/^SF:.*$/gm), ['SF:/fake/include/linux/hdr.h', 'SF:fake.c'])
  assert.match(text, /^FN:50,fk_scale\nFN:60,fk_zero\nFNF:6\nFNH:6\n/m)
  assert.match(text, /^DA:16,3$/m)
  assert.match(text, /^BRDA:22,1,0,0\nBRDA:22,1,1,4$/m)
})

const lcovTool = (() => {
  try {
    execFileSync('lcov', ['--version'], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
})()

// make setup installs lcov: this check always runs.
test('lcov itself reads what we write', () => {
  assert.ok(lcovTool, 'lcov is not installed: run make setup')
  withTmp((dir) => {
    writeReports(toCoverageMap(plan, COUNTS, undefined, { root: FAKE_ROOT }), { dir, reporters: ['lcovonly'], root: FAKE_ROOT })
    const out = execFileSync('lcov', ['--summary', path.join(dir, 'lcov.info')], { stdio: 'pipe' }).toString()
    assert.match(out, /lines\.+: 86\.4% \(19 of 22 lines\)/)
    assert.match(out, /functions\.+: 100\.0% \(6 of 6 functions\)/)
  })
})

test('lcov-parse reads what we write as written, and lcov round-trips to the same coverage', () => {
  const map = toCoverageMap(plan, COUNTS, undefined, { root: FAKE_ROOT })
  const text = writtenLcov(map)
  // Nothing to normalise in our own lcov.
  assert.equal(normaliseLcov(text), text)
  const records = lcovParseAsIs(text)
  assert.equal(records.length, 2)
  const fake = records.find((r) => r.file === 'fake.c')!
  assert.deepEqual(fake.functions.details.map((f) => `${f.name}@${f.line}:${f.hit}`),
    ['fk_ifelse@10:5', 'fk_check@20:4', 'fk_tail@30:1', 'fk_init@40:1', 'fk_scale@50:5', 'fk_zero@60:6'])
  assert.equal(fake.lines.found, 21)
  assert.equal(fake.lines.hit, 18)
  assert.equal(fake.branches.found, 6)
  // The whole map back, entry for entry.
  assert.deepEqual(json(lcovToCoverageMap(text, { root: FAKE_ROOT })), json(map))
})

test('lcov-parse bug: a three-field FN: (lcov 2) names the function after its end line; normalised', () => {
  const text = 'SF:/fake/src/a.c\nFN:3,9,foo\nFNDA:4,foo\nDA:3,4\nend_of_record\n'
  assert.deepEqual(lcovParseAsIs(text)[0]!.functions.details, [{ name: '9', line: 3 }])
  assert.deepEqual(parseLcov(text)[0]!.functions.details, [{ name: 'foo', line: 3, hit: 4 }])
})

test('lcov-parse bug: FNL/FNA (lcov 2.2) are ignored; normalised into FN/FNDA', () => {
  const text = 'SF:a.c\nFNL:0,3,9\nFNA:0,4,foo\nFNL:1,12\nFNA:1,0,bar\nFNA:1,0,bar_alias\nDA:3,4\nend_of_record\n'
  assert.deepEqual(lcovParseAsIs(text)[0]!.functions.details, [])
  assert.deepEqual(parseLcov(text)[0]!.functions.details, [
    { name: 'foo', line: 3, hit: 4 }, { name: 'bar', line: 12, hit: 0 }, { name: 'bar_alias', line: 12, hit: 0 },
  ])
  const fc = lcovToCoverageMap(text, { root: FAKE_ROOT }).fileCoverageFor('a.c')
  assert.deepEqual(Object.values(fc.fnMap).map((f) => `${f.name}@${f.line}#${f.loc.start.column}`),
    ['foo@3#0', 'bar@12#0', 'bar_alias@12#1'])
})

test('lcov-parse bug: taken "-" becomes 0 — the count Istanbul wants for a block never reached', () => {
  const text = 'SF:a.c\nDA:5,0\nBRDA:5,0,0,-\nBRDA:5,0,1,-\nBRDA:7,e3,0,2\nBRDA:7,e3,1,0\nend_of_record\n'
  assert.deepEqual(lcovParseAsIs(text)[0]!.branches.details.slice(0, 2).map((b) => b.taken), [0, 0])
  // lcov 2 marks exception blocks with 'e': lcov-parse would make the block NaN.
  assert.ok(Number.isNaN(lcovParseAsIs(text)[0]!.branches.details[2]!.block))
  const fc = lcovToCoverageMap(text, { root: FAKE_ROOT }).fileCoverageFor('a.c')
  assert.deepEqual(fc.b, { 0: [0, 0], 1: [2, 0] })
  assert.deepEqual(fc.toSummary().branches, { total: 4, covered: 1, skipped: 0, pct: 25 })
})

test('lcov-parse bug: a last record without end_of_record is dropped; one is appended', () => {
  const text = 'SF:a.c\nDA:1,1\nend_of_record\nSF:b.c\nDA:2,3\n'
  assert.deepEqual(lcovParseAsIs(text).map((r) => r.file), ['a.c'])
  assert.deepEqual(parseLcov(text).map((r) => r.file), ['a.c', 'b.c'])
  assert.deepEqual(parseLcov(''), [])
  assert.deepEqual(parseLcov('\r\nSF:c.c\r\nDA:1,1\r\nend_of_record\r\n').map((r) => r.file), ['c.c'])
})

test('mergeCoverage: lcov and Istanbul JSON of kprobecov merge exactly, paths normalised to the root', () => {
  withTmp((dir) => {
    const a = toCoverageMap(plan, COUNTS, undefined, { root: FAKE_ROOT })
    const b = toCoverageMap(plan, COUNTS.map((c, i) => (i === 5 ? 9n : 0n)), undefined, { root: FAKE_ROOT })
    const shard1 = path.join(dir, 'shard1')
    const shard2 = path.join(dir, 'shard2')
    writeReports(a, { dir: shard1, reporters: ['lcovonly'], root: FAKE_ROOT })
    writeReports(b, { dir: shard2, reporters: ['json'], root: FAKE_ROOT })
    const merged = mergeCoverage([path.join(shard1, 'lcov.info'), path.join(shard2, 'coverage-final.json')], { root: FAKE_ROOT })
    assert.deepEqual(json(merged), json(mergeCoverageMaps([a, b])))
    assert.equal(merged.fileCoverageFor('fake.c').getLineCoverage()[23], 9)

    // Absolute paths of another checkout, mapped with sourceRoot; a relative SF: is relative to the root.
    const foreign = path.join(dir, 'foreign.info')
    writeFileSync(foreign, 'TN:\nSF:/build/ci/fake.c\nDA:11,1\nend_of_record\nSF:fake.c\nDA:12,2\nend_of_record\n')
    const m = mergeCoverage([foreign], { root: FAKE_ROOT, sourceRoot: '/build/ci' })
    assert.deepEqual(m.files(), ['fake.c'])
    assert.deepEqual({ ...m.fileCoverageFor('fake.c').getLineCoverage() }, { 11: 1, 12: 2 })

    const bad = path.join(dir, 'bad.json')
    writeFileSync(bad, '{"x.c": {"path": "x.c"}}')
    assert.throws(() => mergeCoverage([bad], { root: FAKE_ROOT }), /bad\.json: the entry 'x\.c' is not Istanbul file coverage/)
    assert.throws(() => mergeCoverage([path.join(dir, 'missing.info')], { root: FAKE_ROOT }), /ENOENT/)
  })
})
