// Probe planning on code built for IBT: native/tests/fixture-ibt/kpc_ibt.c, compiled with
// -fcf-protection=branch (an ENDBR64 at each address-taken label). The arms of the jump
// into the labels are probed past the labels' ENDBR64, where the debug-info blob starts
// their blocks, and each arm proves its own label's line; the entry stays at offset 0.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { planProbes } from '../src/plan/plan.ts'
import type { Plan } from '../src/plan/types.ts'
import { makeNativeFixtures, markerLine } from './native-fixtures.ts'

const root = resolve(import.meta.dirname, '../../..')
const fixtureDir = join(root, 'build/native/fixture-ibt')
const ko = join(fixtureDir, 'kpc_ibt.ko')
const source = join(fixtureDir, 'kpc_ibt.c')
let di: DebugInfo
let plan: Plan

before(() => {
  makeNativeFixtures()
  di = loadDebugInfo(ko)
  plan = planProbes([{ target: { name: 'kpc_ibt', granularity: 'branch' }, debugInfo: di }], { root })
})

const marker = (name: string): number => markerLine(source, name)

const ENDBR64 = Buffer.from([0xf3, 0x0f, 0x1e, 0xfa])

/** The bytes of kpc_ibt_labels, from objdump's listing of the object (its raw bytes). */
function codeOf(symbol: string): Buffer {
  const out = execFileSync('objdump', ['-d', `--disassemble=${symbol}`, ko], { encoding: 'utf8' })
  const bytes: number[] = []
  for (const line of out.split('\n')) {
    const m = /^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(line)
    if (m) for (const b of m[1]!.trim().split(' ')) bytes.push(parseInt(b, 16))
  }
  return Buffer.from(bytes)
}

test('the arms of the jump into address-taken labels are probed past their ENDBR64, on their own lines', () => {
  const fn = plan.functions.findIndex((f) => f.name === 'kpc_ibt_labels')
  assert.ok(fn >= 0)
  const branch = plan.branches.find((b) => b.function === fn && b.line === marker('labels_cond'))
  assert.ok(branch, 'no branch at KPC:labels_cond')
  const [taken, fallthrough] = branch.arms.map((i) => plan.probes[i]!)
  // jle: taken when x <= 0. Each arm runs on into the join (the compiler copies it).
  const lines = (p: typeof taken) => p!.lines.map(([, l]) => l)
  const join = [marker('labels_join'), marker('labels_join') + 1, marker('labels_join') + 2]
  assert.deepEqual(lines(taken), [marker('labels_neg'), ...join])
  assert.deepEqual(lines(fallthrough), [marker('labels_pos'), ...join])
  const code = codeOf('kpc_ibt_labels')
  for (const arm of [taken!, fallthrough!]) {
    assert.equal(arm.kind, 'branch')
    assert.deepEqual(code.subarray(arm.offset - 4, arm.offset), ENDBR64, `no ENDBR64 before +${arm.offset}`)
    assert.notDeepEqual(code.subarray(arm.offset, arm.offset + 4), ENDBR64)
  }
  // No probe of the plan sits on an ENDBR64 but a function's entry.
  for (const p of plan.probes.filter((x) => plan.functions[x.function]!.name === 'kpc_ibt_labels' && x.offset > 0)) {
    assert.notDeepEqual(code.subarray(p.offset, p.offset + 4), ENDBR64, `probe at +${p.offset}`)
  }
})

test('a global function keeps its entry probe at offset 0, on its ENDBR64 (kprobes moves it)', () => {
  const f = plan.functions.find((x) => x.name === 'kpc_ibt_entry')
  assert.ok(f)
  const entry = plan.probes[f.entryProbe!]!
  assert.equal(entry.offset, 0)
  assert.equal(entry.kind, 'function')
  assert.deepEqual(codeOf('kpc_ibt_entry').subarray(0, 4), ENDBR64)
})
