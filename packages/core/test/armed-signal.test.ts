// The armed signal between a test runner's main process (planting and arming in the
// background) and its workers (waiting before their first test file): written once,
// atomically, when arming ended; waited for with a bound; the main process's error
// line passed on as it is. No device: planting goes through a FAKE collector, and a
// worker that is told "armed" goes on to reach the collector (which a host has not).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AddProbesResult, ProbeSelection, ProbeSpec } from '../src/device/collector.ts'
import { plantProbesAsync } from '../src/session/plant.ts'
import { KprobecovError } from '../src/errors.ts'
import type { Plan } from '../src/plan/types.ts'
import { ARMED_ENV, ARM_TIMEOUT_ENV, armTimeoutMs, readArmedSignal, signalWhenArmed, waitArmed, writeArmedSignal } from '../src/testrun/armed.ts'
import { COLLECTOR_ENV, WorkerAttachment } from '../src/testrun/worker.ts'

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kpc-armed-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A promise with its resolve/reject at hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A FAKE collector: its add and arm settle when the test says so. */
class FakeCollector {
  readonly added = deferred<void>()
  readonly armedNow = deferred<void>()
  readonly calls: string[] = []
  specs: readonly ProbeSpec[] = []
  errors: number[] = []

  async addProbesAsync(specs: readonly ProbeSpec[]): Promise<AddProbesResult> {
    this.calls.push('add')
    this.specs = specs
    await this.added.promise
    const error = new Int32Array(specs.length)
    this.errors.forEach((e, i) => (error[i] = e))
    return { firstIndex: 0, count: specs.length, registered: specs.length, pending: 0, failed: 0, state: new Uint32Array(specs.length), error }
  }

  async armAsync(selection: ProbeSelection = 'all'): Promise<number> {
    this.calls.push(`arm ${String(selection)}`)
    await this.armedNow.promise
    return this.specs.length
  }
}

const plan = {
  targets: [{ module: 'kvstore' }],
  probes: [
    { target: 0, symbol: 'kvstore_read', offset: 0, kind: 'function', function: 0 },
    { target: 0, symbol: 'kvstore_read', offset: 9, kind: 'line', function: 0 },
    { target: 0, symbol: 'kvstore_write', offset: 0, kind: 'function', function: 1 },
  ],
} as unknown as Plan

test('the signal is written when arming ended, not before: add, then arm, then "armed"', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const fake = new FakeCollector()
  fake.errors = [0, -2, 0]
  const planting = signalWhenArmed(file, plantProbesAsync(fake, plan))
  await sleep(20)
  assert.deepEqual(fake.calls, ['add'])
  assert.equal(readArmedSignal(file), undefined, 'signalled before the probes were added')
  fake.added.resolve()
  await sleep(20)
  assert.deepEqual(fake.calls, ['add', 'arm all'])
  assert.equal(readArmedSignal(file), undefined, 'signalled before the probes were armed')
  fake.armedNow.resolve()
  assert.deepEqual(await planting, [{ probe: 1, error: -2 }])
  assert.equal(readArmedSignal(file), 'armed')
  assert.equal(readFileSync(file, 'utf8'), 'armed\n')
  assert.deepEqual(fake.specs.map((s) => `${s.module}:${s.symbol}+${s.offset} ${s.kind} ${s.group}`),
    ['kvstore:kvstore_read+0 function 0', 'kvstore:kvstore_read+9 line 0', 'kvstore:kvstore_write+0 function 1'])
  assert.deepEqual(readdirSync(path.dirname(file)), ['armed'], 'a temporary file was left')
})

test('arming fails: the signal holds the error\'s code and line, and the main side gets the same error', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const fake = new FakeCollector()
  const planting = signalWhenArmed(file, plantProbesAsync(fake, plan))
  fake.added.resolve()
  fake.armedNow.reject(new KprobecovError('ENOMEM', 'arm failed: Cannot allocate memory'))
  await assert.rejects(planting, (e: unknown) => e instanceof KprobecovError && e.code === 'ENOMEM' && e.message === 'arm failed: Cannot allocate memory')
  assert.equal(readFileSync(file, 'utf8'), 'error ENOMEM arm failed: Cannot allocate memory\n')
  const state = readArmedSignal(file)
  assert.ok(state instanceof KprobecovError)
  assert.equal(state.code, 'ENOMEM')
  assert.equal(state.message, 'arm failed: Cannot allocate memory')
})

test('an error that is not a KprobecovError becomes ENOTARMED naming it (its first line)', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  await assert.rejects(signalWhenArmed(file, Promise.reject(new Error('boom\nstack'))),
    (e: unknown) => e instanceof KprobecovError && e.code === 'ENOTARMED' && e.message === 'planting the probes failed: boom')
  assert.equal(readFileSync(file, 'utf8'), 'error ENOTARMED planting the probes failed: boom\n')
})

test('waitArmed resolves once the signal says armed', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  let done = false
  const waiting = waitArmed(file, { ownerPid: process.pid, timeoutMs: 10_000, pollMs: 5 }).then(() => (done = true))
  await sleep(60)
  assert.equal(done, false, 'it did not wait')
  writeArmedSignal(file)
  await waiting
  assert.equal(done, true)
})

test('waitArmed rejects with the main process\'s error, the same code and line', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const waiting = waitArmed(file, { ownerPid: process.pid, timeoutMs: 10_000, pollMs: 5 })
  await sleep(20)
  writeArmedSignal(file, new KprobecovError('EBUSY', 'addProbes failed: Device or resource busy'))
  await assert.rejects(waiting, (e: unknown) => e instanceof KprobecovError && e.code === 'EBUSY' && e.message === 'addProbes failed: Device or resource busy')
})

test('waitArmed gives up after its bound, with the line naming the fix', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const start = performance.now()
  await assert.rejects(waitArmed(file, { ownerPid: process.pid, timeoutMs: 100, pollMs: 5 }), {
    code: 'ENOTARMED',
    message: 'the probes were not armed within 0.1 s: planting them in the kernel takes longer (many probes under emulation?): set KPROBECOV_ARM_TIMEOUT to more seconds',
  })
  assert.ok(performance.now() - start >= 100)
})

test('waitArmed stops at once when the main process ended without signalling (a crash)', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const gone = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' })
  const pid = Number(gone.stdout.trim())
  const start = performance.now()
  await assert.rejects(waitArmed(file, { ownerPid: pid, timeoutMs: 60_000, pollMs: 5 }), {
    code: 'ENOTARMED',
    message: `the test runner's process (pid ${pid}) ended before the probes were armed: its output says why`,
  })
  assert.ok(performance.now() - start < 5_000)
  // Signalled, then ended (a run that finished): armed, no error.
  writeArmedSignal(file)
  await waitArmed(file, { ownerPid: pid, timeoutMs: 1_000, pollMs: 5 })
})

test('the bound comes from KPROBECOV_ARM_TIMEOUT (seconds), default 600', () => {
  assert.equal(armTimeoutMs({}), 600_000)
  assert.equal(armTimeoutMs({ [ARM_TIMEOUT_ENV]: '2.5' }), 2_500)
  assert.throws(() => armTimeoutMs({ [ARM_TIMEOUT_ENV]: 'soon' }), {
    code: 'ENOTARMED', message: 'KPROBECOV_ARM_TIMEOUT=soon is not a number of seconds: give e.g. KPROBECOV_ARM_TIMEOUT=600, or unset it',
  })
})

test('a file that is no signal is refused with the line naming the fix', (t) => {
  const file = path.join(tempDir(t), 'armed')
  writeFileSync(file, 'ready\n')
  assert.throws(() => readArmedSignal(file), {
    code: 'ENOTARMED', message: `${file} is not an armed signal ("ready\\n"): leave KPROBECOV_ARMED to the test runner's kprobecov plugin`,
  })
})

// The worker side, through WorkerAttachment (a token of a collector this host has not).
const token = JSON.stringify({ fd: 987, areaBytes: '4096', path: '/dev/kprobecov', pid: process.pid })

test('worker: arming failed before it started: attach throws the main process\'s line', (t) => {
  const file = path.join(tempDir(t), 'armed')
  writeArmedSignal(file, new KprobecovError('ENOMEM', 'arm failed: Cannot allocate memory'))
  assert.throws(() => WorkerAttachment.attach('tree', { [COLLECTOR_ENV]: token, [ARMED_ENV]: file }), {
    code: 'ENOMEM', message: 'arm failed: Cannot allocate memory',
  })
})

test('worker: not armed yet: attach returns at once, ready() waits, then fails with the main process\'s line', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const attachment = WorkerAttachment.attach('tree', { [COLLECTOR_ENV]: token, [ARMED_ENV]: file })
  assert.ok(attachment)
  assert.throws(() => attachment.take(), {
    code: 'EBADFD', message: 'take: this worker is not attached yet: await ready() before the tests run',
  })
  let settled = false
  const ready = attachment.ready().finally(() => (settled = true))
  await sleep(60)
  assert.equal(settled, false, 'ready() did not wait for the signal')
  writeArmedSignal(file, new KprobecovError('EINVAL', 'arm: probes 0 .. 9 are not all among the 3 added'))
  await assert.rejects(ready, { code: 'EINVAL', message: 'arm: probes 0 .. 9 are not all among the 3 added' })
  attachment.close()
})

test('worker: armed: ready() goes on to reach the collector (here: none inherited, so it says so)', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const attachment = WorkerAttachment.attach('tree', { [COLLECTOR_ENV]: token, [ARMED_ENV]: file })
  await sleep(30)
  writeArmedSignal(file)
  await assert.rejects(attachment!.ready(), (e: unknown) => e instanceof KprobecovError && e.code === 'ENOCOLLECTOR' &&
    e.message.startsWith(`this process (pid ${process.pid}) cannot reach the collector of pid ${process.pid} (fd 987: not inherited)`))
  // Armed before the worker started: attach goes straight to the collector.
  assert.throws(() => WorkerAttachment.attach('tree', { [COLLECTOR_ENV]: token, [ARMED_ENV]: file }), { code: 'ENOCOLLECTOR' })
})

test('worker: the bound of the environment applies: ready() fails with the timeout line', async (t) => {
  const file = path.join(tempDir(t), 'armed')
  const attachment = WorkerAttachment.attach('tree', { [COLLECTOR_ENV]: token, [ARMED_ENV]: file, [ARM_TIMEOUT_ENV]: '0.2' })
  await assert.rejects(attachment!.ready(), {
    code: 'ENOTARMED',
    message: 'the probes were not armed within 0.2 s: planting them in the kernel takes longer (many probes under emulation?): set KPROBECOV_ARM_TIMEOUT to more seconds',
  })
  assert.equal(existsSync(file), false)
})
