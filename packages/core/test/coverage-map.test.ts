// Probe counters → Istanbul CoverageMap, on the plan of FAKE debug info.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import libCoverage from 'istanbul-lib-coverage'
import type { CoverageMap } from 'istanbul-lib-coverage'
import { planProbes } from '../src/plan/plan.ts'
import { createCoverageMapper, notInstrumentedLines, toCoverageMap, LINE_END_COLUMN } from '../src/coverage/coverage-map.ts'
import { mergeCoverageMaps } from '../src/coverage/merge.ts'
import { reportPath } from '../src/coverage/paths.ts'
import { leftOutNote } from '../src/reports/console.ts'
import { FAKE_H, FAKE_ROOT, fakeDebugInfo } from './fake-debuginfo.ts'

const plan = planProbes([{ target: { name: 'fakemod', granularity: 'branch' }, debugInfo: fakeDebugInfo() }], { root: FAKE_ROOT })
const options = { root: FAKE_ROOT }
// Probes: 0 fk_ifelse+0, 1 +b (then), 2 +1c (else), 3 fk_check+0, 4 +d, 5 fk_check.cold, 6 fk_tail+0,
// 7 +8, 8 fk_init+0, 9 +3, 10 fk_scale.constprop.0, 11 fk_scale.isra.0, 12 fk_zero+0, 13 +6, 14 +a
const COUNTS = [5n, 3n, 2n, 4n, 4n, 0n, 1n, 0n, 1n, 1n, 2n, 3n, 6n, 0n, 6n]

const lines = (map: CoverageMap, file: string) => ({ ...map.fileCoverageFor(file).getLineCoverage() }) as Record<string, number>
const functions = (map: CoverageMap, file: string) => {
  const fc = map.fileCoverageFor(file)
  return Object.entries(fc.fnMap).map(([k, f]) => `${f.name}@${f.line}:${fc.f[k]}`)
}
const branches = (map: CoverageMap, file: string) => {
  const fc = map.fileCoverageFor(file)
  return Object.entries(fc.branchMap).map(([k, b]) => `${b.line}#${b.locations[0]!.start.column}:${fc.b[k]!.join('/')}`)
}

test('a line counts the largest of its probes; one statement per line', () => {
  const map = toCoverageMap(plan, BigUint64Array.from(COUNTS), undefined, options)
  assert.deepEqual(map.files(), [FAKE_H, 'fake.c'])
  assert.deepEqual(lines(map, 'fake.c'), {
    11: 5, 12: 5, 13: 3, 15: 2, 16: 3, 17: 3, 21: 4, 22: 4, 23: 0, 24: 0, 26: 4, 27: 4,
    31: 1, 32: 1, 33: 0, 41: 1, 42: 1, 50: 3, 51: 3, 61: 6, 62: 6,
  })
  assert.deepEqual(lines(map, FAKE_H), { 100: 4 })
  const fc = map.fileCoverageFor('fake.c')
  for (const [k, loc] of Object.entries(fc.statementMap)) {
    assert.deepEqual(loc.end, { line: loc.start.line, column: LINE_END_COLUMN }, `statement ${k}`)
    assert.equal(loc.start.column, 0)
  }
})

test('a function counts its entry probes, clones of one source function summed', () => {
  const map = toCoverageMap(plan, COUNTS, undefined, options)
  assert.deepEqual(functions(map, 'fake.c'),
    ['fk_ifelse@10:5', 'fk_check@20:4', 'fk_tail@30:1', 'fk_init@40:1', 'fk_scale@50:5', 'fk_zero@60:6'])
  const fn = map.fileCoverageFor('fake.c').fnMap[0]!
  assert.deepEqual(fn.decl, { start: { line: 10, column: 0 }, end: { line: 10, column: LINE_END_COLUMN } })
})

test('a branch has its two arms (taken, fall-through) on the jump line', () => {
  const map = toCoverageMap(plan, COUNTS, undefined, options)
  assert.deepEqual(branches(map, 'fake.c'), ['12#0:2/3', '22#0:0/4', '61#0:6/0'])
  const b = map.fileCoverageFor('fake.c').branchMap[0]!
  assert.equal(b.type, 'branch')
  assert.equal(b.locations.length, 2)
})

test('counts: bigint[], BigUint64Array and number[] alike; a count past 2^53 is clamped; a wrong length is an error', () => {
  const a = toCoverageMap(plan, COUNTS, undefined, options).toJSON()
  assert.deepEqual(JSON.parse(JSON.stringify(toCoverageMap(plan, BigUint64Array.from(COUNTS), undefined, options))),
    JSON.parse(JSON.stringify(a)))
  assert.deepEqual(JSON.parse(JSON.stringify(toCoverageMap(plan, COUNTS.map(Number), undefined, options))),
    JSON.parse(JSON.stringify(a)))
  const big = [...COUNTS]
  big[0] = 1n << 60n
  assert.equal(lines(toCoverageMap(plan, big, undefined, options), 'fake.c')[11], Number.MAX_SAFE_INTEGER)
  assert.throws(() => toCoverageMap(plan, COUNTS.slice(1), undefined, options),
    /14 counters for a plan of 15 probes/)
})

test('refused probes: lines only they prove are not statements but listed; branches with a refused arm are dropped', () => {
  const failed = new Set([1, 5, 7])
  const probeFailed = (i: number) => failed.has(i)
  const map = toCoverageMap(plan, COUNTS, probeFailed, options)
  const l = lines(map, 'fake.c')
  // 13 only by probe 1; 16 and 17 also by probe 2. 23, 24 only by the cold probe; 33 only by 7.
  for (const gone of [13, 23, 24, 33]) assert.equal(l[gone], undefined, `line ${gone}`)
  assert.equal(l[16], 2)
  assert.equal(l[17], 2)
  assert.deepEqual(branches(map, 'fake.c'), ['61#0:6/0'])
  assert.deepEqual(notInstrumentedLines(plan, probeFailed, options), [
    { path: 'fake.c', line: 13 }, { path: 'fake.c', line: 23 }, { path: 'fake.c', line: 24 }, { path: 'fake.c', line: 33 },
  ])
  // A refused entry probe: the function is not instrumented (its other clone still is).
  const noEntry = toCoverageMap(plan, COUNTS, (i) => i === 0 || i === 10, options)
  assert.deepEqual(functions(noEntry, 'fake.c'),
    ['fk_check@20:4', 'fk_tail@30:1', 'fk_init@40:1', 'fk_scale@50:3', 'fk_zero@60:6'])
  assert.deepEqual(notInstrumentedLines(plan, undefined, options), [])
})

test('per-test maps have one shape and merge exactly', () => {
  const mapper = createCoverageMapper(plan, (i) => i === 7, options)
  const a = mapper.toCoverageMap(COUNTS)
  const zero = mapper.toCoverageMap(COUNTS.map(() => 0n))
  const b = mapper.toCoverageMap(COUNTS.map((c, i) => (i === 5 ? 7n : c)))
  const shape = (m: CoverageMap) => JSON.stringify(m, (k, v) => (k === 's' || k === 'f' || k === 'b' ? undefined : v))
  assert.equal(shape(a), shape(zero))
  assert.equal(shape(a), shape(b))
  const merged = mergeCoverageMaps([a, b, zero])
  assert.equal(shape(merged), shape(a))
  const sum = lines(merged, 'fake.c')
  assert.equal(sum[11], 10)
  assert.equal(sum[23], 7)
  // b's cold arm (probe 5) counted 7 without its source block (probe 3) counting more: taken = 4 - 4.
  assert.deepEqual(branches(merged, 'fake.c'), ['12#0:4/6', '22#0:0/8', '61#0:12/0'])
  // The inputs are untouched by the merge.
  assert.equal(lines(a, 'fake.c')[11], 5)
  // Istanbul's own merge agrees.
  const istanbul = libCoverage.createCoverageMap(JSON.parse(JSON.stringify(a)))
  istanbul.merge(JSON.parse(JSON.stringify(b)))
  istanbul.merge(JSON.parse(JSON.stringify(zero)))
  assert.deepEqual(JSON.parse(JSON.stringify(istanbul)), JSON.parse(JSON.stringify(merged)))
})

test('a join point: taken = source - fall-through, not the count of the taken block', () => {
  // fk_ifelse entered 5 times, the fall-through arm 5 times, its taken block reached 5 times by other paths.
  const counts = [...COUNTS]
  counts[0] = 5n
  counts[1] = 5n
  counts[2] = 5n
  assert.deepEqual(branches(toCoverageMap(plan, counts, undefined, options), 'fake.c')[0], '12#0:0/5')
  // Without the source probe (refused), each arm counts its block.
  assert.deepEqual(branches(toCoverageMap(plan, counts, (i) => i === 0, options), 'fake.c')[0], '12#0:5/5')
  // Counters read while running may disagree by a little: never below 0.
  counts[1] = 6n
  assert.deepEqual(branches(toCoverageMap(plan, counts, undefined, options), 'fake.c')[0], '12#0:0/6')
})

test('several jumps on one line are ranked by column and stay apart when merged', () => {
  const twice = { ...plan, branches: [...plan.branches, { function: 0, file: 0, line: 12, arms: [1, 2] as [number, number] }] }
  const map = toCoverageMap(twice, COUNTS, undefined, options)
  assert.deepEqual(branches(map, 'fake.c'), ['12#0:2/3', '12#1:3/2', '22#0:0/4', '61#0:6/0'])
  const merged = mergeCoverageMaps([map, map])
  assert.deepEqual(branches(merged, 'fake.c'), ['12#0:4/6', '12#1:6/4', '22#0:0/8', '61#0:12/0'])
})

test('report paths: relative inside the root, absolute outside, a build directory mapped onto the root', () => {
  assert.equal(reportPath('/fake/src/drv/x.c', { root: '/fake/src' }), 'drv/x.c')
  assert.equal(reportPath('/usr/src/linux/include/linux/slab.h', { root: '/fake/src' }), '/usr/src/linux/include/linux/slab.h')
  assert.equal(reportPath('/fake/srcother/x.c', { root: '/fake/src' }), '/fake/srcother/x.c')
  assert.equal(reportPath('/build/ci/drv/x.c', { root: '/fake/src', sourceRoot: '/build/ci' }), 'drv/x.c')
  const map = toCoverageMap(plan, COUNTS, undefined, { root: '/ci/workspace', sourceRoot: '/fake/src' })
  assert.deepEqual(map.files(), [FAKE_H, 'fake.c'])
})

test('include/exclude globs select files by report path', () => {
  assert.deepEqual(toCoverageMap(plan, COUNTS, undefined, { ...options, exclude: ['/fake/include/**'] }).files(), ['fake.c'])
  assert.deepEqual(toCoverageMap(plan, COUNTS, undefined, { ...options, include: ['**/*.h'] }).files(), [FAKE_H])
})

test('maps of different shapes (other refused probes) merge as Istanbul merges them, in location order', () => {
  const a = toCoverageMap(plan, COUNTS, (i) => i === 1 || i === 5, options)
  const b = toCoverageMap(plan, COUNTS, (i) => i === 7, options)
  const istanbul = libCoverage.createCoverageMap(JSON.parse(JSON.stringify(a)))
  istanbul.merge(JSON.parse(JSON.stringify(b)))
  const merged = mergeCoverageMaps([a, b])
  const byLocation = (m: CoverageMap) => {
    const fc = m.fileCoverageFor('fake.c')
    return {
      lines: { ...fc.getLineCoverage() },
      functions: Object.entries(fc.fnMap).map(([k, f]) => `${f.name}:${fc.f[k]}`).sort(),
      branches: Object.entries(fc.branchMap).map(([k, b]) => `${b.line}#${b.locations[0]!.start.column}:${fc.b[k]}`).sort(),
    }
  }
  assert.deepEqual(byLocation(merged), byLocation(istanbul))
  const l = lines(merged, 'fake.c')
  assert.equal(l[13], 3)
  assert.equal(l[33], 0)
  assert.equal(l[11], 10)
  // Istanbul appends entries only b had; the merge keeps location order.
  assert.deepEqual(branches(istanbul, 'fake.c'), ['61#0:12/0', '12#0:2/3', '22#0:0/4'])
  assert.deepEqual(branches(merged, 'fake.c'), ['12#0:2/3', '22#0:0/4', '61#0:12/0'])
})

test('a line the plan leaves silent is no statement, listed with its reason, and counted by the text reports\' note', () => {
  const fakeC = plan.files.findIndex((f) => f.endsWith('fake.c'))
  const silent = structuredClone(plan)
  for (const p of silent.probes) p.lines = p.lines.filter(([f, l]) => !(f === fakeC && l === 13))
  silent.silent = [{ function: 0, file: fakeC, line: 13, reason: 'return-shared' }]
  const mapper = createCoverageMapper(silent, (i) => i === 7, options)
  assert.equal(lines(mapper.toCoverageMap(COUNTS), 'fake.c')[13], undefined)
  assert.deepEqual(mapper.notInstrumented, [
    { path: 'fake.c', line: 13, reason: 'return-shared' }, { path: 'fake.c', line: 33 },
  ])
  assert.equal(leftOutNote(mapper.notInstrumented, 'coverage/not-instrumented.json'),
    '1 line left out: the machine code cannot tell whether it ran; see coverage/not-instrumented.json\n')
  assert.equal(leftOutNote([{ path: 'fake.c', line: 33 }], 'x'), undefined)
})
