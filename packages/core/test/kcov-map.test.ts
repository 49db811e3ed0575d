// From KCOV's PCs to plan probes, on a real module: the fixture native/ builds a second
// time with KCOV's instrumentation (build/native/fixture-kcov), as a kernel with
// CONFIG_KCOV builds modules. KCOV itself is not needed: the PCs KCOV would record are the
// return addresses of the callback calls the .ko holds, placed at a made-up load address.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { planProbes } from '../src/plan/plan.ts'
import type { Plan } from '../src/plan/types.ts'
import { buildKcovMap, countSites, KcovResolver, lineRowAt, probeHits, withoutFreedInit, type KcovMap } from '../src/kcov/map.ts'
import { createCoverageMapper } from '../src/coverage/coverage-map.ts'
import { KprobecovError } from '../src/errors.ts'
import { makeNativeFixtures, markerLine } from './native-fixtures.ts'

const root = resolve(import.meta.dirname, '../../..')
const ko = join(root, 'build/native/fixture-kcov/kpc_fixture.ko')
const plainKo = join(root, 'build/native/fixture/kpc_fixture.ko')
const source = join(root, 'build/native/fixture-kcov/kpc_fixture.c')
let di: DebugInfo
let plan: Plan
let map: KcovMap

const plan1 = (granularity: 'function' | 'line' | 'branch', strategy?: 'line') =>
  planProbes([{ target: { name: 'kpc_fixture', granularity }, debugInfo: di }], { root, ...(strategy ? { strategy } : {}) })

before(() => {
  makeNativeFixtures()
  di = loadDebugInfo(ko)
  plan = plan1('branch')
  map = buildKcovMap(plan, [{ debugInfo: di, object: ko }])
})

const marker = (name: string): number => markerLine(source, name)

const BASE = 0xffffffffc0100000n
const sectionIndex = (name: string) => di.sections.findIndex((s) => s.name === name)
/** Each section at BASE + 1 MB * its index: where the module "is loaded". */
const bases = () => new Map(di.sections.map((s, i) => [s.name, BASE + BigInt(i) * 0x100000n]))
/** The PC KCOV records for a site: its return address at the made-up load address. */
const pcOf = (site: { section: number; sectionOffset: number }) => BASE + BigInt(site.section) * 0x100000n + BigInt(site.sectionOffset)
const pcSites = () => (di.kcovSites ?? []).filter((s) => s.kind === 'pc')
const siteLine = (s: { function?: number; offset: number }) => lineRowAt(di, di.functions[s.function!]!, s.offset - 1)?.line

function resolver(m: KcovMap = map): KcovResolver {
  const r = new KcovResolver(m)
  r.setBases([bases()], 0n)
  return r
}

test('the fixture has KCOV call sites; each PC stands for a probe whose lines hold the line of its call', () => {
  const sites = pcSites()
  assert.ok(sites.length > 20)
  const r = resolver()
  for (const s of sites) {
    const { hits, unknown } = r.resolve(new BigUint64Array([pcOf(s)]), new BigUint64Array([1n]))
    assert.equal(unknown, 0)
    const fn = di.functions[s.function!]!
    if (hits.size === 0) continue // a block the plan does not probe
    const [probe] = [...hits.keys()]
    const p = plan.probes[probe!]!
    assert.equal(p.symbol, fn.symbol, `${fn.symbol}+${s.offset}`)
    const line = siteLine(s)
    // A row that starts no statement may be code hoisted out of its line's statement (a loop's
    // invariant load): its block does not prove the line (plan/lines.ts).
    const stmt = di.lines.slice(fn.firstLine, fn.firstLine + fn.nrLines).filter((r) => r.offset <= s.offset - 1 && r.marker !== true).at(-1)?.isStmt
    if (line !== undefined && stmt === true) assert.ok(p.lines.some(([, l]) => l === line), `${fn.symbol}+0x${s.offset.toString(16)}: line ${line} not in ${JSON.stringify(p.lines)}`)
  }
})

test('if/else: the then-path\'s PCs cover the condition, the then-side and the join, not the else-side', () => {
  const fi = di.functions.findIndex((f) => f.symbol === 'kpc_fx_ifelse')
  const sites = pcSites().filter((s) => s.function === fi)
  const [cond, then, otherwise, join] = ['ifelse_cond', 'ifelse_then', 'ifelse_else', 'ifelse_join'].map(marker)
  // The entry block's call, the then-block's and the join's: the else-block's call is not run.
  const run = sites.filter((s) => siteLine(s) !== otherwise)
  assert.equal(run.length, sites.length - 1)
  const { hits } = resolver().resolve(new BigUint64Array(run.map(pcOf)), new BigUint64Array(run.map(() => 3n)))
  const counts = new BigUint64Array(plan.probes.length)
  for (const [p, c] of hits) counts[p] = c
  const mapper = createCoverageMapper(plan, (i) => map.blind.includes(i), { root })
  const lines = mapper.toCoverageMap(counts).fileCoverageFor('build/native/fixture-kcov/kpc_fixture.c').getLineCoverage()
  assert.equal(lines[cond!], 3)
  assert.equal(lines[then!], 3)
  assert.equal(lines[join!], 3)
  assert.equal(lines[otherwise!], 0)
})

test('a block with two callbacks counts once per run of the block: the largest count, not the sum', () => {
  const shared = new Map<number, number[]>()
  const sec = map.targets[0]!.sections.find((s) => s.name === '.text')!
  sec.probes.forEach((p, i) => {
    if (p >= 0) shared.set(p, [...(shared.get(p) ?? []), sec.pcs[i]!])
  })
  const [probe, offsets] = [...shared].find(([, o]) => o.length > 1) ?? []
  assert.ok(probe !== undefined && offsets, 'the fixture has a plan block with two callbacks')
  const base = bases().get('.text')!
  const { hits } = resolver().resolve(new BigUint64Array(offsets.map((o) => base + BigInt(o))), new BigUint64Array(offsets.map(() => 5n)))
  assert.equal(hits.get(probe), 5n)
})

test('every function\'s entry probe has a callback; blind probes are the blocks without one', () => {
  for (const f of plan.functions) assert.ok(!map.blind.includes(f.entryProbe!), f.name)
  const seen = new Set(map.targets.flatMap((t) => t.sections.flatMap((s) => s.probes)))
  const derived = new Set(map.derived.map(([p]) => p))
  for (let i = 0; i < plan.probes.length; i++) assert.equal(map.blind.includes(i), !seen.has(i) && !derived.has(i), `probe ${i}`)
  assert.ok(map.blind.length < plan.probes.length / 4, `${map.blind.length} blind of ${plan.probes.length}`)
  // A blind probe is not instrumented, so its lines are misses only if another probe proves them.
  const mapper = createCoverageMapper(plan, (i) => map.blind.includes(i), { root })
  const statements = new Set(Object.keys(mapper.toCoverageMap(new BigUint64Array(plan.probes.length))
    .fileCoverageFor('build/native/fixture-kcov/kpc_fixture.c').getLineCoverage()).map(Number))
  for (const n of mapper.notInstrumented) assert.ok(!statements.has(n.line))
})

test('a PC in the module that is no call site is unknown; PCs outside the module are not counted', () => {
  const text = sectionIndex('.text')
  const site = pcSites().find((s) => s.section === text)!
  const r = resolver()
  const { hits, unknown, firstUnknown } = r.resolve(
    new BigUint64Array([pcOf(site) + 1n, 0xffffffff81000000n, BASE - 1n]), new BigUint64Array([1n, 1n, 1n]))
  assert.equal(hits.size, 0)
  assert.equal(unknown, 1)
  assert.equal(firstUnknown, `kpc_fixture.text+0x${(site.sectionOffset + 1).toString(16)}`)
})

test('ranges: one per section of the map, canonical (minus the KASLR offset); none when the module is not loaded', () => {
  const r = new KcovResolver(map)
  r.setBases([bases()], 0x200000n)
  const words = r.rangeWords()
  assert.equal(r.rangeCount, map.targets[0]!.sections.length)
  const text = BASE + BigInt(sectionIndex('.text')) * 0x100000n - 0x200000n
  const k = [...words].indexOf(text)
  assert.ok(k >= 0 && k % 2 === 0)
  assert.equal(words[k + 1]! - words[k]!, BigInt(di.sections[sectionIndex('.text')]!.size))
  const site = pcSites().find((s) => s.section === sectionIndex('.text') && s.function === di.functions.findIndex((f) => f.symbol === 'kpc_fx_even'))!
  assert.equal(r.resolve(new BigUint64Array([pcOf(site) - 0x200000n]), new BigUint64Array([1n])).hits.size, 1)
  r.setBases([undefined], 0n)
  assert.equal(r.rangeCount, 0)
  assert.equal(r.resolve(new BigUint64Array([pcOf(site)]), new BigUint64Array([1n])).hits.size, 0)
})

test('granularity function: only the entry blocks\' PCs count, for the entry probes', () => {
  const p = plan1('function')
  const m = buildKcovMap(p, [{ debugInfo: di, object: ko }])
  const probes = new Set(m.targets[0]!.sections.flatMap((s) => s.probes).filter((x) => x >= 0))
  assert.deepEqual([...probes].sort((a, b) => a - b), p.functions.map((f) => f.entryProbe!).sort((a, b) => a - b))
  assert.deepEqual(m.blind, [])
})

test('a plan made per source line maps each PC by the line of its call', () => {
  const p = plan1('line', 'line')
  const m = buildKcovMap(p, [{ debugInfo: di, object: ko }])
  const r = resolver(m)
  for (const s of pcSites()) {
    const { hits } = r.resolve(new BigUint64Array([pcOf(s)]), new BigUint64Array([1n]))
    const line = siteLine(s)
    for (const probe of hits.keys()) assert.ok(p.probes[probe]!.lines.some(([, l]) => l === line))
  }
  assert.ok(m.targets[0]!.sections.some((s) => s.probes.some((x) => x >= 0)))
})

test('a module built without KCOV\'s instrumentation is refused with the fix', () => {
  const plain = loadDebugInfo(plainKo)
  const p = planProbes([{ target: { name: 'kpc_fixture' }, debugInfo: plain }], { root })
  assert.throws(() => buildKcovMap(p, [{ debugInfo: plain, object: plainKo }]), (e: unknown) =>
    e instanceof KprobecovError && e.code === 'ENOKCOV' && /CONFIG_KCOV_INSTRUMENT_ALL=y, or put KCOV_INSTRUMENT := y in its Kbuild; or use backend 'kprobe'$/.test(e.message))
})

test('the map is plain JSON and survives the trip to the workers', () => {
  const back = JSON.parse(JSON.stringify(map)) as KcovMap
  assert.deepEqual(back, map)
  assert.equal(back.probes, plan.probes.length)
})

test('a PC is placed with the first set of addresses that holds it: a module unloaded and loaded elsewhere', () => {
  const site = pcSites().find((s) => di.functions[s.function!]!.symbol === 'kpc_fx_even')!
  const moved = new Map([...bases()].map(([k, v]) => [k, v + 0x4000000n]))
  const oldPc = pcOf(site)
  const newPc = oldPc + 0x4000000n
  // Now at `moved`; the first PC was recorded while the module was at bases().
  const sites = countSites(map, [[oldPc, 2n], [newPc, 3n]], [[moved], [bases()]], 0n)
  assert.equal(sites.unknown, 0)
  assert.equal(sites.counts.size, 1)
  const hits = probeHits(map, sites)
  assert.deepEqual([...hits.values()], [5n])
  // With the current addresses only, the old PC is not placed at all.
  assert.deepEqual([...probeHits(map, countSites(map, [[oldPc, 2n], [newPc, 3n]], [[moved]], 0n)).values()], [3n])
})

test('a block without a callback, entered only by one arm of one jump, counts the jump\'s block minus the other arm', () => {
  assert.ok(map.derived.length > 0, 'the fixture has such a block')
  const sec = map.targets[0]!.sections.find((x) => x.name === '.text')!
  const base = bases().get('.text')!
  const pcOfProbe = (probe: number) => base + BigInt(sec.pcs[sec.probes.indexOf(probe)]!)
  const [probe, plus, minus] = map.derived.find(([, a, b]) => sec.probes.includes(a) && sec.probes.includes(b))!
  // The jump's block ran 5 times, the other arm twice: this arm 3 times.
  let hits = probeHits(map, countSites(map, [[pcOfProbe(plus), 5n], [pcOfProbe(minus), 2n]], [[bases()]], 0n))
  assert.equal(hits.get(probe), 3n)
  // Every run took the other arm: this one did not run.
  hits = probeHits(map, countSites(map, [[pcOfProbe(plus), 4n], [pcOfProbe(minus), 4n]], [[bases()]], 0n))
  assert.equal(hits.get(probe), undefined)
  // Its lines are statements of the map (not instrumented only when blind).
  const mapper = createCoverageMapper(plan, (i) => map.blind.includes(i), { root })
  assert.ok(!mapper.notInstrumented.some((n) => plan.probes[probe]!.lines.some(([, l]) => l === n.line) &&
    !plan.probes.some((p, i) => i !== probe && !map.blind.includes(i) && p.lines.some(([, l]) => l === n.line))))
})

test('a PC at the return address of another call (a callee tail-calling the callback) is neither counted nor unknown', () => {
  const call = (di.kcovSites ?? []).find((x) => x.kind === 'call' && x.section === sectionIndex('.text'))!
  assert.ok(call)
  const sites = countSites(map, [[pcOf(call), 1n]], [[bases()]], 0n)
  assert.equal(sites.unknown, 0)
  assert.equal(sites.counts.size, 0)
})

test('module_init ran before the run (initFreed): .init.text is left out, its PCs count for nothing, its probes are blind', () => {
  const init = sectionIndex('.init.text')
  assert.ok(init >= 0)
  const initSites = pcSites().filter((s) => s.section === init)
  assert.ok(initSites.length > 0, 'kpc_fx_init has KCOV call sites')
  const initFn = di.functions.findIndex((f) => f.symbol === 'kpc_fx_init')
  const initProbes = plan.probes.flatMap((p, i) => (p.symbol === 'kpc_fx_init' ? [i] : []))
  assert.ok(initProbes.length > 0)
  // Kept (the tests load the module): the init code's PCs count for its probes.
  const kept = resolver().resolve(BigUint64Array.from(initSites.map(pcOf)), new BigUint64Array(initSites.length).fill(1n))
  assert.ok(initProbes.some((i) => kept.hits.has(i)))
  // Freed: no range there (whatever is loaded there now is not kpc_fixture), the probes blind.
  const freed = buildKcovMap(plan, [{ debugInfo: di, object: ko, initFreed: true }])
  assert.ok(!freed.targets[0]!.sections.some((s) => s.name === '.init.text'))
  for (const i of initProbes) assert.ok(freed.blind.includes(i), `probe ${i} of kpc_fx_init is not blind`)
  const r = resolver(freed)
  const got = r.resolve(BigUint64Array.from(initSites.map(pcOf)), new BigUint64Array(initSites.length).fill(1n))
  assert.equal(got.hits.size, 0)
  assert.equal(got.unknown, 0)
  // The rest of the module is mapped as before.
  const other = pcSites().find((s) => s.section === sectionIndex('.text') && s.function !== initFn)!
  assert.equal(r.resolve(new BigUint64Array([pcOf(other)]), new BigUint64Array([1n])).hits.size, 1)
})

test('per window, .init sections count only for a module loaded during the window', () => {
  const sections = (init: bigint) => new Map([['.text', 0x1000n], ['.init.text', init], ['.init.rodata', init + 0x100n]])
  // Target 0: the same load as at the window's start. 1: reloaded during it. 2: loaded during it. 3: not loaded.
  const bases = [sections(0xa000n), sections(0xb000n), sections(0xc000n), undefined]
  const kept = withoutFreedInit(bases, [7n, 8n, undefined, undefined], [7n, 9n, 10n, undefined])
  assert.deepEqual(kept.map((b) => (b ? [...b.keys()] : undefined)), [
    ['.text'],
    ['.text', '.init.text', '.init.rodata'],
    ['.text', '.init.text', '.init.rodata'],
    undefined,
  ])
  assert.equal(kept[1], bases[1], 'a section map it keeps is passed through')
  // Unloaded since the start (no load now): nothing of it is placed anyway.
  assert.deepEqual(withoutFreedInit([sections(0xa000n)], [7n], [undefined]), [sections(0xa000n)])
})
