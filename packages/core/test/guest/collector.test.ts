// The Collector against the real kprobecov.ko, in the QEMU guest (run.sh):
// debug info of kpc_target.ko -> probes on its functions (and on the two
// successors of one branch, found in the debug info) -> attach this process
// -> kpc_target's ioctls (kmod/tests/target/kpc_target.h) -> exact counters.
// Needs root and both modules loaded; run.sh loads them.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DataType, load, open } from 'ffi-rs'
import type { DebugInfo } from '../../src/debuginfo/types.ts'
import { KprobecovError } from '../../src/errors.ts'
import { Collector, ProbeState, probeKindOfState, type ProbeSpec } from '../../src/device/collector.ts'
import { checkModuleMatches, moduleLoaded, moduleObjectPath } from '../../src/device/system.ts'
import { loadDebugInfo } from '../../src/native/debuginfo.ts'

const root = resolve(import.meta.dirname, '../../../..')
const targetKo = process.env.KPROBECOV_TARGET_KO ?? join(root, 'kmod/tests/target/kpc_target.ko')
const results = process.env.KPROBECOV_GUEST_RESULTS

// ---- kpc_target's private ioctls (kmod/tests/target/kpc_target.h) ----------
const ioc = (dir: number, nr: number, size: number): number => dir * 2 ** 30 + size * 2 ** 16 + 0xb9 * 2 ** 8 + nr
const CALL_SIZE = 24 // struct kpc_target_call: s64 arg, u32 times, u32 reserved, s64 result
const CALL_A = ioc(3, 0x01, CALL_SIZE)
const CALL_B = ioc(3, 0x02, CALL_SIZE)
const CALL_BRANCH = ioc(3, 0x03, CALL_SIZE)
const CALL_SEQ = ioc(3, 0x04, CALL_SIZE)
const GET_INFO = ioc(2, 0x06, 32) // struct kpc_target_info: 4 x u64

open({ library: 'guest-test-libc', path: '' })
let targetFd = -1

function ioctl(request: number, arg: Uint8Array): void {
  const r = load({
    library: 'guest-test-libc',
    funcName: 'ioctl',
    retType: DataType.I32,
    paramsType: [DataType.I32, DataType.U64, DataType.U8Array],
    paramsValue: [targetFd, request, arg],
    errno: true,
  }) as unknown as { value: number; errnoCode: number }
  if (r.value < 0) throw new Error(`ioctl 0x${request.toString(16)} on /dev/kpc_target: errno ${r.errnoCode}`)
}

/** Calls kpc_target's function `times` times in one ioctl. */
function call(request: number, arg: bigint, times = 1): void {
  const buf = new Uint8Array(CALL_SIZE)
  const dv = new DataView(buf.buffer)
  dv.setBigInt64(0, arg, true)
  dv.setUint32(8, times, true)
  ioctl(request, buf)
}

// ---- the shared collector ----------------------------------------------------
let di: DebugInfo
let col: Collector
let refcntBefore = ''
/** Probe index by symbol (function entry), and the two branch successors. */
const probe = new Map<string, number>()
let posProbe = -1
let negProbe = -1
let slot = -1
const collectors: Collector[] = []

function openCollector(): Collector {
  const c = Collector.open()
  collectors.push(c)
  return c
}

const refcnt = (): string => readFileSync('/sys/module/kprobecov/refcnt', 'utf8').trim()

before(() => {
  assert.ok(moduleLoaded('kprobecov') && moduleLoaded('kpc_target'), 'run.sh loads kprobecov and kpc_target')
  refcntBefore = refcnt()
  targetFd = openSync('/dev/kpc_target', 'r+')
  di = loadDebugInfo(targetKo)
  col = openCollector()
  col.init({ maxProbes: 256, maxSlots: 8, traceEntries: 1024, callers: true })
})

after(() => {
  for (const c of collectors) c.close()
  if (targetFd >= 0) closeSync(targetFd)
})

const kprobecovError = (code: string, text?: string) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError, `not a KprobecovError: ${String(e)}`)
  assert.equal(e.code, code, e.message)
  assert.ok(!e.message.includes('\n'))
  if (text !== undefined) assert.ok(e.message.includes(text), `"${e.message}" should include "${text}"`)
  return true
}

test('the debug info is of the loaded kpc_target.ko', () => {
  assert.equal(di.moduleName, 'kpc_target')
  assert.equal(checkModuleMatches(di), 'match')
  assert.throws(() => checkModuleMatches({ ...di, buildId: '00'.repeat(20) }), kprobecovError('EBUILDID', 'is not the loaded kpc_target'))
  assert.throws(() => checkModuleMatches({ ...di, moduleName: 'kpc_not_loaded' }), kprobecovError('EMODULE_NOT_LOADED'))
})

test('a distribution module: found with modinfo, stripped of debug info', () => {
  const ko = moduleObjectPath('9p')
  assert.match(ko, /^\/lib\/modules\/[^/]+\/kernel\/fs\/9p\/9p\.ko(\.xz|\.zst)?$/)
  assert.throws(() => loadDebugInfo(ko), kprobecovError('ENODATA', 'install its debug package'))
  assert.throws(() => moduleObjectPath('kpc_target'), kprobecovError('ENOENT', 'no module kpc_target is installed'))
})

test('probes on every function entry and on both successors of kpc_target_branch\'s x > 0', () => {
  // Where the kernel says the two blocks start (labels in the module's code)...
  const info = new BigUint64Array(4)
  ioctl(GET_INFO, new Uint8Array(info.buffer))
  const pos = Number(info[0])
  const neg = Number(info[1])
  // ...is where the debug info says the branch goes.
  const branchFn = di.functions.findIndex((f) => f.symbol === 'kpc_target_branch')
  const branch = di.branches.find(
    (b) =>
      b.function === branchFn &&
      b.taken.function === branchFn &&
      b.fallthrough.function === branchFn &&
      [b.taken.offset, b.fallthrough.offset].sort((x, y) => x - y).join() === [pos, neg].sort((x, y) => x - y).join(),
  )
  assert.ok(branch, `no branch of kpc_target_branch with successors at +${pos} and +${neg}`)

  const specs: ProbeSpec[] = []
  di.functions.forEach((f, fi) => {
    // Not __init code (freed) nor __exit code: that runs only at the unload, and from 6.4
    // on (a section in memory of its own) its one function is the module's last in its
    // text, which kprobecov.ko refuses (EOVERFLOW: kprobes would decode past it).
    if (f.aliasOf !== undefined || di.sections[f.section]?.init || di.sections[f.section]?.exit) return
    probe.set(f.symbol, specs.length)
    specs.push({ module: di.moduleName, symbol: f.symbol, offset: 0, kind: 'function', group: fi })
    if (fi === branchFn) {
      for (const s of [branch.taken, branch.fallthrough]) {
        if (s.offset === pos) posProbe = specs.length
        else negProbe = specs.length
        specs.push({ module: di.moduleName, symbol: f.symbol, offset: s.offset, kind: 'branch', group: fi })
      }
    }
  })
  const r = col.addProbes(specs)
  assert.equal(r.firstIndex, 0)
  assert.equal(r.count, specs.length)
  assert.equal(col.probeCount, specs.length)
  assert.deepEqual([...r.error], specs.map(() => 0), 'every probe registered without error')
  assert.equal(r.registered, specs.length)
  assert.equal(r.pending + r.failed, 0)
  for (const st of r.state) assert.equal(st & (ProbeState.REGISTERED | ProbeState.ARMED), ProbeState.REGISTERED)
  assert.equal(probeKindOfState(r.state[posProbe] ?? 0), 'branch')
  assert.equal(col.arm('all'), specs.length)
  const st = col.probeStatus()
  for (const s of st.state) assert.ok(s & ProbeState.ARMED)
})

test('attach this process, CALL_A three times: exactly 3 for kpc_target_a, 0 for kpc_target_b', () => {
  const sampleId = 2n ** 64n - 3n
  slot = col.attach({ scope: 'process', sampleId })
  for (let i = 0; i < 3; i++) call(CALL_A, 7n)
  const counters = col.readCounters(slot)
  assert.equal(counters.length, col.probeCount)
  const a = probe.get('kpc_target_a') as number
  const b = probe.get('kpc_target_b') as number
  assert.equal(counters[a], 3n)
  assert.equal(counters[b], 0n)
  const stats = col.slotStats(slot)
  assert.equal(stats.state, 'attached')
  assert.equal(stats.sampleId, sampleId)
  assert.equal(stats.scope, 'process')
  assert.ok(stats.tasks >= 1)
  assert.ok(stats.newCoverage >= 1)
  const hits = col.readHits()
  const hit = (i: number) => ((hits[i >> 6] ?? 0n) >> BigInt(i & 63)) & 1n
  assert.equal(hit(a), 1n)
  assert.equal(hit(b), 0n)
  const st = col.probeStatus(a, 1)
  assert.ok((st.state[0] ?? 0) & ProbeState.HIT)
  assert.equal(probeKindOfState(st.state[0] ?? 0), 'function')
  const nz = col.readNonZero(slot)
  assert.ok([...nz.index].includes(a))
  assert.equal(nz.counts[[...nz.index].indexOf(a)], 3n)
})

test('branch successors count each side exactly', () => {
  call(CALL_BRANCH, 5n, 2)
  call(CALL_BRANCH, -3n, 1)
  const counters = col.readCounters(slot)
  assert.equal(counters[probe.get('kpc_target_branch') as number], 3n)
  assert.equal(counters[posProbe], 2n)
  assert.equal(counters[negProbe], 1n)
})

test('callers of kpc_target_a: kpc_target_call, 3 calls', () => {
  const c = col.callers(probe.get('kpc_target_a') as number)
  assert.equal(c.count, 1)
  assert.match(c.callers[0]?.symbol ?? '', /^kpc_target_call\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kpc_target\]$/)
  assert.equal(c.callers[0]?.calls, 3n)
  assert.equal(c.overflow, 0n)
  assert.throws(() => col.callers(posProbe), kprobecovError('EINVAL', 'not a function probe'))
})

test('nextUnhit walks the never-hit function probes', () => {
  const unhit: number[] = []
  for (let i = col.nextUnhit({ kinds: ['function'] }); i !== undefined; i = col.nextUnhit({ kinds: ['function'], from: i + 1 })) {
    unhit.push(i)
  }
  assert.ok(unhit.includes(probe.get('kpc_target_b') as number))
  assert.ok(!unhit.includes(probe.get('kpc_target_a') as number))
  assert.equal(col.nextUnhit({ kinds: ['function'], skip: unhit.length }), undefined)
})

test('detach stops counting; counters stay readable; release frees and zeroes', () => {
  const a = probe.get('kpc_target_a') as number
  col.detach(slot)
  call(CALL_A, 7n)
  assert.equal(col.readCounters(slot)[a], 3n)
  assert.equal(col.slotStats(slot).state, 'detached')
  assert.throws(() => col.detach(slot), kprobecovError('ENOENT', `slot ${slot} is not attached`))
  col.release(slot)
  assert.equal(col.slotStats(slot).state, 'free')
  assert.equal(col.readCounters(slot)[a], 0n)
  assert.throws(() => col.release(slot), kprobecovError('ENOENT', 'free already'))
})

test('the trace of CALL_SEQ: seq, a, b, branch (pos), branch (neg), a', () => {
  col.traceStart()
  call(CALL_SEQ, 1n)
  col.traceStop()
  const t = col.readTrace()
  const names = new Map<number, string>([
    [probe.get('kpc_target_seq') as number, 'seq'],
    [probe.get('kpc_target_a') as number, 'a'],
    [probe.get('kpc_target_b') as number, 'b'],
    [probe.get('kpc_target_branch') as number, 'branch'],
    [posProbe, 'pos'],
    [negProbe, 'neg'],
  ])
  assert.equal(t.written, t.probes.length)
  const seen = [...t.probes].filter((p) => names.has(p)).map((p) => names.get(p))
  assert.deepEqual(seen, ['seq', 'a', 'b', 'branch', 'pos', 'branch', 'neg', 'a'])
  assert.throws(() => col.traceStop(), kprobecovError('ENOENT', 'no trace is running'))
})

test('waitForNewCoverage wakes on a first hit, not on repeats, and times out', async () => {
  const c = openCollector()
  c.init({ maxProbes: 4, maxSlots: 2 })
  c.addProbes(['kpc_target_a', 'kpc_target_b'].map((symbol, group) => ({ module: 'kpc_target', symbol, offset: 0, kind: 'function' as const, group })))
  c.arm()
  const s = c.attach({ scope: 'thread', sampleId: 1n })
  assert.equal(await c.waitForNewCoverage(0), false)
  call(CALL_B, 2n)
  assert.equal(await c.waitForNewCoverage(2000), true)
  call(CALL_B, 2n)
  const t0 = performance.now()
  assert.equal(await c.waitForNewCoverage(50), false)
  assert.ok(performance.now() - t0 >= 45)
  assert.deepEqual([...c.collect(s)], [0n, 2n])
  assert.equal(c.slotStats(s).state, 'free')
  c.close()
  assert.equal(await c.waitForNewCoverage(10).catch((e: unknown) => (e as KprobecovError).code), 'ECLOSED')
})

test('edge counters: one AFL-style edge per hit', () => {
  const c = openCollector()
  c.init({ maxProbes: 2, maxSlots: 1, edgeBits: 4 })
  c.addProbes([{ module: 'kpc_target', symbol: 'kpc_target_b', offset: 0, kind: 'function', group: 0 }])
  c.arm()
  const s = c.attach({ scope: 'thread', sampleId: 5n })
  call(CALL_B, 1n, 2)
  c.detach(s)
  const edges = c.readEdges(s)
  assert.equal(edges.length, 16)
  assert.equal(edges.reduce((sum, x) => sum + x, 0), 2)
  assert.ok(c.slotStats(s).edges >= 1)
  assert.throws(() => col.readEdges(0), kprobecovError('EINVAL', 'edgeBits > 0'))
  c.close()
})

test('addProbesAsync and armAsync (libuv\'s pool): the kernel\'s answers per probe come back, counting starts when armed', async () => {
  const c = openCollector()
  c.init({ maxProbes: 3, maxSlots: 1 })
  const specs = ['kpc_target_a', 'kpc_target_b', 'kpc_target_nope'].map((symbol, group) => ({ module: 'kpc_target', symbol, offset: 0, kind: 'function' as const, group }))
  const adding = c.addProbesAsync(specs)
  assert.ok(adding instanceof Promise)
  const r = await adding
  assert.equal(r.count, 3)
  assert.equal(r.registered, 2)
  assert.equal(r.failed, 1)
  assert.deepEqual([...r.error], [0, 0, -2]) // -ENOENT: unknown symbol, written by the kernel into the batch
  assert.ok((r.state[2] ?? 0) & ProbeState.FAILED)
  assert.equal(c.probeCount, 3)
  const s = c.attach({ scope: 'thread', sampleId: 9n })
  call(CALL_A, 1n, 2)
  assert.deepEqual([...c.readCounters(s)], [0n, 0n, 0n], 'counted before arming')
  assert.equal(await c.armAsync('all'), 3) // changed: probes whose wanted state changed, the refused one too
  call(CALL_A, 1n, 3)
  call(CALL_B, 1n)
  assert.deepEqual([...c.readCounters(s)], [3n, 1n, 0n])
  c.close()
  await assert.rejects(c.armAsync('all'), kprobecovError('ECLOSED'))
})

test('errors from the kernel, one line each with the fix', () => {
  const c = openCollector()
  assert.throws(() => c.attach({ scope: 'process', sampleId: 0n }), kprobecovError('EBADFD', 'call init() first'))
  assert.throws(() => c.init({ maxProbes: c.limits.maxProbes + 1 }), kprobecovError('EINVAL', 'load kprobecov with larger max_probes'))
  c.init({ maxProbes: 2, maxSlots: 1 })
  assert.throws(() => c.init({ maxProbes: 2 }), kprobecovError('EBUSY'))
  const r = c.addProbes([{ module: 'kpc_target', symbol: 'kpc_target_nope', offset: 0, kind: 'function', group: 0 }])
  assert.equal(r.failed, 1)
  assert.equal(r.error[0], -2) // -ENOENT: unknown symbol
  assert.ok((r.state[0] ?? 0) & ProbeState.FAILED)
  assert.throws(
    () => c.addProbes([0, 1].map(() => ({ module: 'kpc_target', symbol: 'kpc_target_a', offset: 0, kind: 'function' as const, group: 0 }))),
    kprobecovError('ENOSPC', 'larger maxProbes'),
  )
  assert.throws(() => c.attach({ pid: 0x3ffffff0, scope: 'process', sampleId: 0n }), kprobecovError('ESRCH', 'no process 1073741808'))
  const s = c.attach({ scope: 'process', sampleId: 0n })
  assert.throws(() => c.attach({ scope: 'tree', sampleId: 0n }), kprobecovError('EBUSY', 'this process is attached in this collector already'))
  assert.throws(() => c.attach({ pid: 1, scope: 'process', sampleId: 0n }), kprobecovError('ENOSPC', 'all 1 slots are in use'))
  c.release(s)
  c.close()
  assert.throws(() => c.readCounters(0), kprobecovError('ECLOSED'))
})

test('20 test files in a row with 10,000 probes: each slot counts only its file (per-file cost reported)', (t) => {
  const c = openCollector()
  const n = 10_000
  c.init({ maxProbes: n, maxSlots: 64 })
  const real: ProbeSpec[] = ['kpc_target_a', 'kpc_target_b', 'kpc_target_branch', 'kpc_target_call'].map((symbol, group) => ({
    module: 'kpc_target',
    symbol,
    offset: 0,
    kind: 'function',
    group,
  }))
  // The rest wait for a module that never loads: the counter area is that of 10,000 probes.
  const pending: ProbeSpec[] = Array.from({ length: n - real.length }, (_, i) => ({
    module: 'kpc_cost_absent',
    symbol: `f${i >> 4}`,
    offset: (i & 15) + 1,
    kind: 'line',
    group: 100 + (i >> 4),
  }))
  const added = c.addProbes([...real, ...pending])
  assert.equal(added.registered, real.length)
  assert.equal(added.pending, pending.length)
  c.arm()
  const counters = new BigUint64Array(n)
  const steps = { attach: [] as number[], detach: [] as number[], read: [] as number[], release: [] as number[], total: [] as number[] }
  for (let i = 0; i < 23; i++) {
    const t0 = performance.now()
    const s = c.attach({ scope: 'process', sampleId: BigInt(i) })
    const t1 = performance.now()
    call(CALL_A, 1n) // the "test file"
    const t2 = performance.now()
    c.detach(s)
    const t3 = performance.now()
    const read = c.readCounters(s, counters)
    const t4 = performance.now()
    c.release(s)
    const t5 = performance.now()
    assert.equal(read.length, n)
    assert.equal(read[0], 1n)
    if (i < 3) continue // warm-up
    steps.attach.push(t1 - t0)
    steps.detach.push(t3 - t2)
    steps.read.push(t4 - t3)
    steps.release.push(t5 - t4)
    steps.total.push(t1 - t0 + (t5 - t2))
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? 0
  const ms = (x: number) => `${x.toFixed(3)} ms`
  const total = [...steps.total].sort((x, y) => x - y)
  const line =
    `per-file cost with ${n} probes (${real.length} planted, ${pending.length} pending), 4 native calls, ` +
    `${total.length} files, QEMU ${process.env.KPROBECOV_QEMU_ACCEL ?? 'unknown accel'}: median ${ms(median(total))}, ` +
    `max ${ms(total[total.length - 1] ?? 0)} (medians: attach ${ms(median(steps.attach))}, detach ${ms(median(steps.detach))}, ` +
    `readCounters ${ms(median(steps.read))}, release ${ms(median(steps.release))})`
  t.diagnostic(line)
  if (results !== undefined) writeFileSync(join(results, 'core-guest-cost.txt'), `${line}\n`)
  // Timing is reported here and judged in BENCHMARKS.md, not asserted.
  c.close()
})

test('close frees everything: no kpc_target kprobe left, kprobecov unreferenced', () => {
  for (const c of collectors) c.close()
  assert.equal(col.closed, true)
  assert.equal(refcnt(), refcntBefore)
  assert.equal(refcntBefore, '0')
  const list = '/sys/kernel/debug/kprobes/list'
  if (existsSync(list)) assert.doesNotMatch(readFileSync(list, 'utf8'), /kpc_target/)
})
