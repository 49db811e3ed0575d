// What the user is told about probes the kernel refused (session/plant.ts), on a plan of FAKE debug info.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { constants } from 'node:os'
import { planProbes } from '../src/plan/plan.ts'
import { refusalReason, tellRefused } from '../src/session/plant.ts'
import type { ProgressEvent } from '../src/session/progress.ts'
import { FAKE_ROOT, fakeDebugInfo } from './fake-debuginfo.ts'

const { EOVERFLOW, EILSEQ, ENOTSUP } = constants.errno
const plan = planProbes([{ target: { name: 'fakemod', granularity: 'branch' }, debugInfo: fakeDebugInfo() }], { root: FAKE_ROOT })
const wording = { initHint: 'load it in the tests', notDone: 'not planted', listHint: 'kprobecov status --probes lists them' }

const told = (error: number): string[] => {
  const events: ProgressEvent[] = []
  tellRefused(plan, [], [{ probe: 7, error }, { probe: 6, error }], (e) => { events.push(e) }, wording)
  return events.map((e) => `${e.type}: ${e.text}`)
}

test("a probe in a module's last function: the warning says why kprobecov.ko refused it", () => {
  const p = plan.probes[7]!
  assert.deepEqual(told(-EOVERFLOW), [
    `warning: the kernel refused 2 of ${plan.probes.length} probes (first: ${p.symbol}+0x${p.offset.toString(16)}, ` +
    "EOVERFLOW: in the module's last function, which kprobes would decode past the end of the module's text): " +
    'their lines are not counted (kprobecov status --probes lists them)',
  ])
})

test('a probe on an ENDBR64 inside its function: the reason in one line', () => {
  assert.equal(refusalReason(-ENOTSUP),
    'ENOTSUP: on an ENDBR64 inside the function (an indirect-branch target), where a breakpoint would trap indirect jumps under IBT')
})

test('another errno: its name alone', () => {
  assert.equal(refusalReason(-EILSEQ), 'EILSEQ')
  assert.equal(refusalReason(EOVERFLOW).startsWith('EOVERFLOW: '), true)
})
