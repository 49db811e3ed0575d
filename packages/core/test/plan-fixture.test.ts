// Probe planning on a real module: the fixture native/ builds with kbuild and -g
// (native/tests/fixture/kpc_fixture.c), read with loadDebugInfo. Expected lines come
// from the fixture's "KPC:<name>" markers, so they stay exact when the code moves.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { planProbes } from '../src/plan/plan.ts'
import type { Plan, PlanProbe } from '../src/plan/types.ts'
import { toCoverageMap } from '../src/coverage/coverage-map.ts'
import { makeNativeFixtures, markerLine } from './native-fixtures.ts'

const root = resolve(import.meta.dirname, '../../..')
const fixtureDir = join(root, 'build/native/fixture')
const ko = join(fixtureDir, 'kpc_fixture.ko')
const source = join(fixtureDir, 'kpc_fixture.c')
let di: DebugInfo
let plan: Plan

before(() => {
  makeNativeFixtures()
  di = loadDebugInfo(ko)
  plan = planProbes([{ target: { name: 'kpc_fixture', granularity: 'branch' }, debugInfo: di }], { root })
})

const marker = (name: string): number => markerLine(source, name)

const lineSet = (p: PlanProbe) => new Set(p.lines.map(([, l]) => l))
const proving = (p: Plan, line: number) => p.probes.filter((x) => x.lines.some(([, l]) => l === line))
const fnName = (p: Plan, probe: PlanProbe) => p.functions[probe.function]!.name

test('the plan is made from the fixture, with its source file', () => {
  assert.deepEqual(plan.targets, [{
    module: 'kpc_fixture', object: ko, buildId: di.buildId, granularity: 'branch', blocks: true,
  }])
  assert.deepEqual(plan.files, [source])
  assert.equal(plan.skipped, undefined)
})

test('one function per source function, at its declaration line; aliases and inlined helpers are not functions', () => {
  const expected = ['even', 'odd', 'ifelse', 'switch', 'loop', 'check', 'scale', 'join', 'global', 'complain', 'exit', 'init']
    .map((n) => `kpc_fx_${n}@${marker(`${n}_decl`)}`)
  assert.deepEqual(plan.functions.map((f) => `${f.name}@${f.line}`).sort(), expected.sort())
  for (const f of plan.functions) {
    const entry = plan.probes[f.entryProbe!]!
    assert.equal(entry.offset, 0)
    assert.equal(entry.kind, 'function')
    assert.equal(fnName(plan, entry), f.name)
  }
  // A compiler clone is probed under its own symbol, reported under its source name.
  const scale = plan.functions.find((f) => f.name === 'kpc_fx_scale')!
  assert.match(plan.probes[scale.entryProbe!]!.symbol, /^kpc_fx_scale\./)
  assert.ok(!plan.probes.some((p) => p.symbol === 'init_module' || p.symbol === 'cleanup_module'))
})

test('if/else: the branch at the condition has an arm per side; each arm\'s block proves its side and the join', () => {
  const cond = marker('ifelse_cond')
  const branches = plan.branches.filter((b) => b.line === cond)
  assert.equal(branches.length, 1)
  const arms = branches[0]!.arms.map((a) => lineSet(plan.probes[a]!))
  const [then, otherwise, join] = [marker('ifelse_then'), marker('ifelse_else'), marker('ifelse_join')]
  const thenArm = arms.find((s) => s.has(then))
  const elseArm = arms.find((s) => s.has(otherwise))
  assert.ok(thenArm && elseArm && thenArm !== elseArm)
  assert.ok(thenArm.has(join) && elseArm.has(join))
  assert.ok(!thenArm.has(otherwise) && !elseArm.has(then))
  // The condition is proven by the entry block, which ends in the jump: the branch's source.
  assert.deepEqual(proving(plan, cond).map((p) => p.kind), ['function'])
  assert.equal(branches[0]!.source, plan.functions.find((f) => f.name === 'kpc_fx_ifelse')!.entryProbe)
})

test('a branch into the cold part: its arm is the cold part\'s probe, counted for the parent function', () => {
  const cold = plan.probes.findIndex((p) => p.symbol === 'kpc_fx_check.cold')
  assert.ok(cold >= 0)
  assert.equal(plan.probes[cold]!.offset, 0)
  assert.ok(lineSet(plan.probes[cold]!).has(marker('check_cold')))
  assert.equal(fnName(plan, plan.probes[cold]!), 'kpc_fx_check')
  const branch = plan.branches.find((b) => b.arms.includes(cold))
  assert.ok(branch)
  assert.equal(plan.functions[branch.function]!.name, 'kpc_fx_check')
  const check = plan.functions.find((f) => f.name === 'kpc_fx_check')!
  assert.ok(check.endLine >= marker('check_cold'))
})

test('init and exit code are planned; an always-inline helper is proven where it was inlined', () => {
  assert.ok(proving(plan, marker('exit_body')).some((p) => p.symbol === 'kpc_fx_exit' && p.kind === 'function'))
  const init = plan.functions.find((f) => f.name === 'kpc_fx_init')!
  assert.equal(plan.probes[init.entryProbe!]!.symbol, 'kpc_fx_init')
  assert.ok(proving(plan, marker('helper_body')).every((p) => p.symbol === 'kpc_fx_global'))
  assert.ok(proving(plan, marker('helper_body')).length > 0)
})

test('probes sit on instruction boundaries the debug info knows: a line row or a branch successor', () => {
  const known = new Set<string>()
  for (const l of di.lines) if (l.function !== undefined) known.add(`${di.functions[l.function]!.symbol}+${l.offset}`)
  for (const b of di.branches) {
    for (const s of [b.taken, b.fallthrough]) if (s.function !== undefined) known.add(`${di.functions[s.function]!.symbol}+${s.offset}`)
  }
  for (const p of plan.probes) assert.ok(known.has(`${p.symbol}+${p.offset}`), `${p.symbol}+${p.offset}`)
})

test('per-block planning proves every line per-line planning does, with fewer probes', () => {
  const lines = (p: Plan) => [...new Set(p.probes.flatMap((x) => x.lines.map(([, l]) => l)))].sort((a, b) => a - b)
  const blocks = planProbes([{ target: { name: 'kpc_fixture', granularity: 'line' }, debugInfo: di }], { root })
  const perLine = planProbes([{ target: { name: 'kpc_fixture', granularity: 'line' }, debugInfo: di }], { root, strategy: 'line' })
  assert.deepEqual(lines(blocks), lines(perLine))
  assert.equal(blocks.silent, undefined)
  // Every line of the source the debug info has rows for, in a primary function.
  const rows = new Set(di.lines.filter((l) => l.line > 0 && l.file > 0 && l.function !== undefined &&
    di.functions[l.function]!.aliasOf === undefined).map((l) => l.line))
  assert.deepEqual(lines(blocks), [...rows].sort((a, b) => a - b))
  assert.ok(blocks.probes.length < perLine.probes.length, `${blocks.probes.length} < ${perLine.probes.length}`)
  assert.ok(plan.probes.length >= blocks.probes.length)
})

test('the code after an if/else, entered from both arms (one by a jmp), is proven by a probe of its own', () => {
  const after = proving(plan, marker('join_after'))
  assert.ok(after.length > 0)
  for (const arm of ['join_then', 'join_else']) {
    for (const p of proving(plan, marker(arm))) assert.ok(!after.includes(p), `${arm} shares a probe with the join`)
  }
})

test('coverage of the fixture: its lines and functions in the report, relative to the root', () => {
  // kpc_fx_ifelse called twice, once down each side.
  const counts = plan.probes.map((p) => (p.symbol !== 'kpc_fx_ifelse' ? 0n : p.kind === 'function' ? 2n : 1n))
  const map = toCoverageMap(plan, counts, undefined, { root })
  const rel = 'build/native/fixture/kpc_fixture.c'
  assert.deepEqual(map.files(), [rel])
  const fc = map.fileCoverageFor(rel)
  const l = fc.getLineCoverage()
  for (const m of ['ifelse_then', 'ifelse_else', 'ifelse_join']) assert.equal(l[marker(m)], 1, m)
  assert.equal(l[marker('ifelse_cond')], 2)
  assert.equal(l[marker('exit_body')], 0)
  assert.equal(Object.values(fc.fnMap).length, 12)
  const cond = Object.entries(fc.branchMap).find(([, b]) => b.line === marker('ifelse_cond'))!
  assert.deepEqual(fc.b[cond[0]], [1, 1])
})
