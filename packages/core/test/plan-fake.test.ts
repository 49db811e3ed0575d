// Probe planning on FAKE debug info (test/fake-debuginfo.ts): exact plans.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { planProbes } from '../src/plan/plan.ts'
import type { Granularity, Plan } from '../src/plan/types.ts'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { FAKE_C, FAKE_H, FAKE_ROOT, fakeDebugInfo } from './fake-debuginfo.ts'

function plan(granularity: Granularity, debugInfo: DebugInfo = fakeDebugInfo(), strategy?: 'block' | 'line'): Plan {
  return planProbes([{ target: { name: 'fakemod', granularity }, debugInfo }],
    strategy ? { root: FAKE_ROOT, strategy } : { root: FAKE_ROOT })
}

/** Probes as `symbol+0xoff kind lines` with lines as `file:line` (c: fake.c, h: hdr.h). */
function probes(p: Plan): string[] {
  const short = (f: number) => (p.files[f] === FAKE_C ? 'c' : p.files[f] === FAKE_H ? 'h' : p.files[f])
  return p.probes.map((x) =>
    `${x.symbol}+${x.offset.toString(16)} ${x.kind} f${x.function} [${x.lines.map(([f, l]) => `${short(f)}:${l}`).join(' ')}]`)
}

test('branch granularity: one probe per basic block, arms of every branch inside its function', () => {
  const p = plan('branch')
  assert.deepEqual(p.targets, [{ module: 'fakemod', object: 'fakemod.ko', buildId: 'fa4e', granularity: 'branch', blocks: true }])
  assert.deepEqual(p.files, [FAKE_C, FAKE_H])
  assert.deepEqual(probes(p), [
    'fk_ifelse+0 function f0 [c:11 c:12]',
    'fk_ifelse+b branch f0 [c:13 c:16 c:17]',
    'fk_ifelse+1c branch f0 [c:15 c:16 c:17]',
    'fk_check+0 function f1 [c:21 c:22 h:100]',
    'fk_check+d branch f1 [c:26 c:27]',
    // The cold part is probed under its own symbol, as part of fk_check.
    'fk_check.cold+0 branch f1 [c:23 c:24]',
    'fk_tail+0 function f2 [c:31 c:32]',
    'fk_tail+8 branch f2 [c:33]',
    // .init.text is planned like any code; blockStarts splits fk_init; init_module (alias) is not planned.
    'fk_init+0 function f3 [c:41]',
    'fk_init+3 line f3 [c:42]',
    'fk_scale.constprop.0+0 function f4 [c:50 c:51]',
    'fk_scale.isra.0+0 function f5 [c:50 c:51]',
    'fk_zero+0 function f6 [c:61]',
    // An arm without a source line still gets its probe (at the block start), proving no line.
    'fk_zero+6 branch f6 []',
    'fk_zero+a branch f6 [c:62]',
  ])
  assert.deepEqual(p.functions, [
    { target: 0, name: 'fk_ifelse', file: 0, line: 10, endLine: 17, entryProbe: 0 },
    { target: 0, name: 'fk_check', file: 0, line: 20, endLine: 27, entryProbe: 3 },
    { target: 0, name: 'fk_tail', file: 0, line: 30, endLine: 33, entryProbe: 6 },
    { target: 0, name: 'fk_init', file: 0, line: 40, endLine: 42, entryProbe: 8 },
    { target: 0, name: 'fk_scale', file: 0, line: 50, endLine: 51, entryProbe: 10 },
    { target: 0, name: 'fk_scale', file: 0, line: 50, endLine: 51, entryProbe: 11 },
    { target: 0, name: 'fk_zero', file: 0, line: 60, endLine: 62, entryProbe: 12 },
  ])
  // source: the block ending in the jump, as each fall-through is reached from its jump only.
  assert.deepEqual(p.branches, [
    { function: 0, file: 0, line: 12, arms: [2, 1], source: 0 },
    { function: 1, file: 0, line: 22, arms: [5, 4], source: 3 },
    { function: 6, file: 0, line: 61, arms: [14, 13], source: 12 },
  ])
  assert.deepEqual(p.skipped, [
    { target: 0, symbol: 'fk_tail', offset: 6, reason: 'branch-leaves-function' },
    { target: 0, symbol: 'fk_dup', reason: 'ambiguous' },
    { target: 0, symbol: 'fk_asm', reason: 'no-dwarf' },
  ])
})

test('no source block when something else may reach the fall-through successor', () => {
  // Another jump's target (a loop back-edge, say)…
  const di = fakeDebugInfo()
  const other = structuredClone(di.branches[0]!)
  other.offset = 0x1a
  other.taken = { function: 0, offset: 0xb, file: 1, line: 13 }
  other.fallthrough = { function: 0, offset: 0x1c, file: 1, line: 15 }
  di.branches.splice(1, 0, other)
  di.functions[0]!.nrBranches = 2
  for (const f of di.functions.slice(1)) f.firstBranch++
  const p = plan('branch', di)
  assert.deepEqual(p.branches[0], { function: 0, file: 0, line: 12, arms: [2, 1] })
  // …or an unconditional jump's (blockStarts).
  const di2 = fakeDebugInfo()
  di2.functions[0]!.blockStarts = [0xb]
  assert.deepEqual(plan('branch', di2).branches[0], { function: 0, file: 0, line: 12, arms: [2, 1] })
})

test('line granularity: the same blocks, no branch records, no probe for a block without lines', () => {
  const p = plan('line')
  assert.equal(p.branches.length, 0)
  assert.deepEqual(probes(p), probes(plan('branch'))
    .filter((s) => !s.startsWith('fk_zero+6 '))
    .map((s) => s.replace(' branch ', ' line ')))
})

test('function granularity: one entry probe per function, proving its entry block', () => {
  assert.deepEqual(probes(plan('function')), [
    'fk_ifelse+0 function f0 [c:11 c:12]',
    'fk_check+0 function f1 [c:21 c:22 h:100]',
    'fk_tail+0 function f2 [c:31 c:32]',
    'fk_init+0 function f3 [c:41]',
    'fk_scale.constprop.0+0 function f4 [c:50 c:51]',
    'fk_scale.isra.0+0 function f5 [c:50 c:51]',
    'fk_zero+0 function f6 [c:61]',
  ])
})

test('per-line planning (and the fallback without branch info): one probe per line at its first row', () => {
  const perLine = [
    'fk_ifelse+0 function f0 [c:11]',
    'fk_ifelse+5 line f0 [c:12]',
    'fk_ifelse+b line f0 [c:13]',
    'fk_ifelse+10 line f0 [c:16]',
    'fk_ifelse+17 line f0 [c:17]',
    'fk_ifelse+1c line f0 [c:15]',
    'fk_check+0 function f1 [c:21]',
    'fk_check+5 line f1 [c:22 h:100]',
    'fk_check+d line f1 [c:26]',
    'fk_check+15 line f1 [c:27]',
    'fk_check.cold+0 line f1 [c:23]',
    'fk_check.cold+5 line f1 [c:24]',
    'fk_tail+0 function f2 [c:31]',
    'fk_tail+4 line f2 [c:32]',
    'fk_tail+8 line f2 [c:33]',
    'fk_init+0 function f3 [c:41]',
    'fk_init+3 line f3 [c:42]',
    'fk_scale.constprop.0+0 function f4 [c:50]',
    'fk_scale.constprop.0+5 line f4 [c:51]',
    'fk_scale.isra.0+0 function f5 [c:50]',
    'fk_scale.isra.0+5 line f5 [c:51]',
    'fk_zero+0 function f6 [c:61]',
    'fk_zero+a line f6 [c:62]',
  ]
  assert.deepEqual(probes(plan('line', fakeDebugInfo(), 'line')), perLine)
  const fallback = plan('branch', fakeDebugInfo({ hasBranches: false }))
  assert.equal(fallback.targets[0]!.blocks, false)
  assert.deepEqual(probes(fallback), perLine)
  assert.equal(fallback.branches.length, 0)
})

test('per-block planning proves the same lines as per-line planning with fewer probes', () => {
  const lines = (p: Plan) => new Set(p.probes.flatMap((x) => x.lines.map(([f, l]) => `${p.files[f]}:${l}`)))
  const blocks = plan('line')
  const perLine = plan('line', fakeDebugInfo(), 'line')
  assert.deepEqual(lines(blocks), lines(perLine))
  assert.ok(blocks.probes.length < perLine.probes.length, `${blocks.probes.length} < ${perLine.probes.length}`)
})

test('a plan is JSON data and every probe names a planned function', () => {
  const p = plan('branch')
  assert.deepEqual(JSON.parse(JSON.stringify(p)), p)
  for (const x of p.probes) assert.ok(p.functions[x.function], `probe ${x.symbol}+${x.offset}`)
  for (const b of p.branches) for (const a of b.arms) assert.equal(p.probes[a]!.function, b.function)
})

test('targets share the file table; probes keep their target', () => {
  const other = fakeDebugInfo()
  other.moduleName = 'othermod'
  other.path = 'othermod.ko'
  const p = planProbes([
    { target: { name: 'fakemod', granularity: 'function' }, debugInfo: fakeDebugInfo() },
    { target: { name: 'othermod', granularity: 'function' }, debugInfo: other },
  ], { root: FAKE_ROOT })
  assert.deepEqual(p.files, [FAKE_C, FAKE_H])
  assert.deepEqual(p.targets.map((t) => t.module), ['fakemod', 'othermod'])
  assert.deepEqual(p.probes.map((x) => x.target), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
  assert.equal(p.functions[p.probes[7]!.function]!.target, 1)
})

test('a module target must name the module the object is', () => {
  assert.throws(() => planProbes([{ target: { name: 'kvstore' }, debugInfo: fakeDebugInfo() }], { root: FAKE_ROOT }),
    /fakemod\.ko is the module 'fakemod', not 'kvstore'/)
  // '-' in a module name is '_' for the kernel.
  const di = fakeDebugInfo()
  di.moduleName = 'fake_mod'
  assert.equal(planProbes([{ target: { name: 'fake-mod' }, debugInfo: di }], { root: FAKE_ROOT }).targets[0]!.module, 'fake_mod')
})

test('vmlinux: functions filtered by source and name globs; none given is an error', () => {
  const vmlinux = () => {
    const di = fakeDebugInfo()
    di.moduleName = ''
    di.path = 'vmlinux'
    return di
  }
  const names = (target: Parameters<typeof planProbes>[0][number]['target'], root = FAKE_ROOT) =>
    planProbes([{ target, debugInfo: vmlinux() }], { root }).functions.map((f) => f.name)
  assert.throws(() => names({ name: 'vmlinux' }), /needs "sources" or "functions" globs/)
  assert.deepEqual(names({ name: 'vmlinux', functions: ['fk_s*'] }), ['fk_scale', 'fk_scale'])
  // Symbols match too.
  assert.deepEqual(names({ name: 'vmlinux', functions: ['*.isra.*'] }), ['fk_scale'])
  // A relative source glob: relative to the root when the file is inside it…
  assert.equal(names({ name: 'vmlinux', sources: ['fake.c'] }).length, 7)
  assert.equal(names({ name: 'vmlinux', sources: ['src/fake.c'] }).length, 0)
  // …else it matches the end of the path.
  assert.equal(names({ name: 'vmlinux', sources: ['src/*.c'] }, '/elsewhere').length, 7)
  assert.equal(names({ name: 'vmlinux', sources: ['/fake/src/**'] }, '/elsewhere').length, 7)
  assert.equal(names({ name: 'vmlinux', sources: ['drivers/**'] }, '/elsewhere').length, 0)
  // Either filter keeps a function (union).
  assert.deepEqual(names({ name: 'vmlinux', sources: ['drivers/**'], functions: ['fk_tail'] }), ['fk_tail'])
  assert.equal(planProbes([{ target: { name: 'vmlinux', functions: ['fk_tail'] }, debugInfo: vmlinux() }],
    { root: FAKE_ROOT }).targets[0]!.module, 'vmlinux')
})
