// The CLI over a saved run, on the host: a run of the FAKE module "fakemod"
// (fake-debuginfo.ts) written by this file as kprobecov run would, with known
// counts, states, callers and edge counters; then report, status, unhit,
// callers and paths on it, and merge on lcov and Istanbul JSON written here.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ProbeState } from '../src/device/collector.ts'
import { planProbes } from '../src/plan/plan.ts'
import type { Plan } from '../src/plan/types.ts'
import { RUN_FILE, readRun, runToJson, type RunData } from '../src/cli/record.ts'
import { edgeBucket, hash32 } from '../src/cli/commands/paths.ts'
import { writeDirectoryAtomically } from '../src/reports/run-outputs.ts'
import { cli } from './cli-helpers.ts'
import { fakeDebugInfo } from './fake-debuginfo.ts'

let base = ''
let root = ''
let hdr = ''
let plan: Plan

// Probes of the fake plan (granularity branch), by index:
//  0 fk_ifelse:11 (entry)  1 fk_ifelse:13  2 fk_ifelse:15   3 fk_check:21 (entry)  4 fk_check:26
//  5 fk_check.cold:23      6 fk_tail:31 (entry)  7 fk_tail:33   8 fk_init:41 (entry)  9 fk_init:42
// 10 fk_scale.constprop.0  11 fk_scale.isra.0   12 fk_zero:61 (entry)  13 fk_zero+0x6  14 fk_zero:62
const COUNTS = [3, 2, 1, 1, 1, 0, 0, 0, 0, 0, 2, 0, 1, 1, 0]
const REFUSED = new Set([8, 9]) // fk_init: __init code of a loaded module (ENOENT)
const EDGE_BITS = 16
// Edges "the kernel counted": [from (undefined: a task's first hit), to, count].
const EDGES: Array<[number | undefined, number, number]> = [
  [undefined, 0, 1], [0, 1, 2], [0, 2, 1], [3, 4, 1], [12, 13, 1], [13, 10, 2], [10, 13, 1],
]

function fakeRun(withCallers: boolean): RunData {
  const kindBits = { function: 1, line: 2, branch: 3 }
  const state = Uint32Array.from(plan.probes, (p, i) => (kindBits[p.kind] << ProbeState.KIND_SHIFT) |
    (REFUSED.has(i) ? ProbeState.FAILED | ProbeState.ARMED : ProbeState.REGISTERED | ProbeState.ARMED) |
    ((COUNTS[i] ?? 0) > 0 ? ProbeState.HIT : 0))
  const edges = new Map<number, number>()
  for (const [from, to, n] of EDGES) {
    const b = edgeBucket(from, to, EDGE_BITS)
    edges.set(b, (edges.get(b) ?? 0) + n)
  }
  return {
    plan, root, command: ['./smoke.sh'], exitStatus: 0,
    modules: [{ name: 'fakemod', object: 'fakemod.ko', buildId: 'fa4e', loaded: 'match' }],
    counts: BigUint64Array.from(COUNTS, BigInt),
    state,
    error: Int32Array.from(plan.probes, (_, i) => (REFUSED.has(i) ? -2 : 0)),
    callers: withCallers
      ? new Map([
        [0, { overflow: 0n, callers: [
          { symbol: 'vfs_ioctl+0x22/0x40', calls: 1n },
          { symbol: 'fk_zero+0x9/0x10 [fakemod]', calls: 2n, source: 'drv/fake.c:61' },
        ] }],
        [3, { overflow: 3n, callers: [{ symbol: 'fk_ifelse+0x20/0x30 [fakemod]', calls: 1n, source: 'drv/fake.c:16' }] }],
      ])
      : undefined,
    edges: { bits: EDGE_BITS, counts: edges },
  }
}

/** Writes a saved run into a new directory under base; returns it. */
function savedRun(name: string, run: RunData): string {
  const dir = path.join(base, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, RUN_FILE), runToJson(run))
  return dir
}

before(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'kpc-cli-saved-'))
  root = path.join(base, 'repo')
  const src = path.join(root, 'drv', 'fake.c')
  hdr = path.join(base, 'include', 'linux', 'hdr.h')
  mkdirSync(path.dirname(src), { recursive: true })
  mkdirSync(path.dirname(hdr), { recursive: true })
  writeFileSync(src, Array.from({ length: 70 }, (_, i) => `\tfake_line_${i + 1}();`).join('\n') + '\n')
  writeFileSync(hdr, Array.from({ length: 120 }, (_, i) => `header_line_${i + 1}`).join('\n') + '\n')
  const di = fakeDebugInfo()
  di.files = ['', src, hdr]
  plan = planProbes([{ target: { name: 'fakemod' }, debugInfo: di }], { root })
})
after(() => {
  if (base) rmSync(base, { recursive: true, force: true })
})

test('a saved run reads back as it was written', () => {
  const run = fakeRun(true)
  const back = readRun(savedRun('roundtrip', run))
  assert.deepEqual(back, run)
  const huge = { ...run, counts: BigUint64Array.from(COUNTS, (c) => (c === 3 ? 2n ** 64n - 1n : BigInt(c))) }
  assert.equal(readRun(savedRun('huge', huge)).counts[0], 2n ** 64n - 1n)
})

test('report: the reports of a saved run, written again with other reporters; the saved run stays', async () => {
  const dir = savedRun('report', fakeRun(true))
  writeFileSync(path.join(dir, 'stale.txt'), 'from before')
  const r = await cli(['report', '--out', dir, '-r', 'lcovonly', '-r', 'json', '-r', 'text-summary'])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^Statements {3}: 70% \( 14\/20 \)$/m)
  assert.deepEqual(readdirSync(dir).sort(), ['coverage-final.json', 'kprobecov-run.json', 'lcov.info', 'not-instrumented.json'])
  const lcov = readFileSync(path.join(dir, 'lcov.info'), 'utf8')
  const da = (file: string) => lcov.split('end_of_record').find((rec) => rec.includes(`SF:${file}\n`))!
    .split('\n').filter((l) => l.startsWith('DA:')).join(' ')
  assert.equal(da('drv/fake.c'),
    'DA:11,3 DA:12,3 DA:13,2 DA:15,1 DA:16,2 DA:17,2 DA:21,1 DA:22,1 DA:23,0 DA:24,0 DA:26,1 DA:27,1 ' +
    'DA:31,0 DA:32,0 DA:33,0 DA:50,2 DA:51,2 DA:61,1 DA:62,0')
  assert.equal(da(hdr), 'DA:100,1')
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'not-instrumented.json'), 'utf8')),
    [{ path: 'drv/fake.c', line: 41 }, { path: 'drv/fake.c', line: 42 }])
  assert.deepEqual(readRun(dir), fakeRun(true))
})

test('report: a line the plan leaves silent has no DA, is listed with its reason, and the text report counts it', async () => {
  const run = fakeRun(false)
  const fakeC = run.plan.files.findIndex((f) => f.endsWith('fake.c'))
  run.plan = structuredClone(run.plan)
  for (const p of run.plan.probes) p.lines = p.lines.filter(([f, l]) => !(f === fakeC && l === 13))
  run.plan.silent = [{ function: 0, file: fakeC, line: 13, reason: 'return-shared' }]
  const dir = savedRun('silent', run)
  const r = await cli(['report', '--out', dir, '-r', 'lcovonly', '-r', 'text-summary'])
  assert.equal(r.status, 0, r.stderr)
  assert.ok(r.stdout.endsWith(`1 line left out: the machine code cannot tell whether it ran; see ${path.join(dir, 'not-instrumented.json')}\n`), r.stdout)
  assert.doesNotMatch(readFileSync(path.join(dir, 'lcov.info'), 'utf8'), /^DA:13,/m)
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'not-instrumented.json'), 'utf8')),
    [{ path: 'drv/fake.c', line: 13, reason: 'return-shared' }, { path: 'drv/fake.c', line: 41 }, { path: 'drv/fake.c', line: 42 }])
})

test('report: a broken saved run is an error of one line, and the directory stays as it was', async () => {
  const dir = savedRun('broken', fakeRun(false))
  writeFileSync(path.join(dir, RUN_FILE), '{"kprobecov":"run","version":1,"plan":{"probes":[]},"counts":[1]}')
  const before = readdirSync(dir)
  const r = await cli(['report', '--out', dir])
  assert.deepEqual(r, {
    status: 1, stdout: '',
    stderr: `kprobecov: ${path.join(dir, RUN_FILE)} is not a saved kprobecov run (its counters do not match its plan): run kprobecov run again\n`,
  })
  assert.deepEqual(readdirSync(dir), before)
})

test('writing a directory is all or nothing', () => {
  const dir = path.join(base, 'atomic')
  const staged = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith('kprobecov-out-'))
  const stagedBefore = staged()
  writeDirectoryAtomically(dir, (tmp) => writeFileSync(path.join(tmp, 'a'), '1'))
  assert.throws(() => writeDirectoryAtomically(dir, (tmp) => {
    writeFileSync(path.join(tmp, 'b'), '2')
    throw new Error('reporter failed')
  }), /reporter failed/)
  assert.deepEqual(readdirSync(dir), ['a'])
  assert.deepEqual(readdirSync(base).filter((f) => f.startsWith('.atomic')), [])
  assert.deepEqual(staged(), stagedBefore, 'no staging directory is left behind')
})

test('status: per function and per probe, with the coverage ratio', async () => {
  const dir = savedRun('status', fakeRun(true))
  const r = await cli(['status', '--out', dir])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, `fakemod: fakemod.ko (build-id fa4e, granularity branch)
function   probes  planted  armed  pending  gone  failed  hit  lines
fk_ifelse       3        3      3        0     0       0    3    6/6
fk_check        3        3      3        0     0       0    2    5/7
fk_tail         2        2      2        0     0       0    0    0/3
fk_init         2        0      2        0     0       2    0    0/0
fk_scale        1        1      1        0     0       0    1    2/2
fk_scale        1        1      1        0     0       0    0    0/2
fk_zero         3        3      3        0     0       0    2    1/2
coverage: 8 of 13 probes hit (61.5%), 2 refused by the kernel; lines 14 of 20 (70.0%)
`)
  const p = await cli(['status', '--out', dir, '--probes'])
  assert.match(p.stdout, /^ 8 +fk_init:41 +fk_init\+0x0 +function +armed failed \(ENOENT\) +0$/m)
  assert.match(p.stdout, /^13 +fk_zero\+0x6 +fk_zero\+0x6 +branch +planted armed hit +1$/m)
  assert.match(p.stdout, /^11 +fk_scale\.isra\.0\+0x0 +fk_scale\.isra\.0\+0x0 +function +planted armed +0$/m)
})

test('unhit: the next never-hit function, line or branch, with --skip and --all; refused probes never count', async () => {
  const dir = savedRun('unhit', fakeRun(true))
  const unhit = async (...args: string[]) => {
    const r = await cli(['unhit', '--out', dir, ...args])
    assert.equal(r.status, 0, r.stderr)
    return r.stdout
  }
  assert.equal(await unhit(), 'fk_tail:31  drv/fake.c:31  (function probe 6: fk_tail+0x0)\n')
  assert.equal(await unhit('--skip', '1'), 'fk_scale.isra.0+0x0  drv/fake.c:50  (function probe 11: fk_scale.isra.0+0x0)\n')
  assert.equal(await unhit('--skip', '2'), 'none: fewer than 3 function probes were never hit\n')
  assert.equal(await unhit('--kind', 'line'), 'fk_check:23  drv/fake.c:23  (branch probe 5: fk_check.cold+0x0)\n')
  assert.equal(await unhit('--kind', 'branch', '--all'),
    'fk_check:23  drv/fake.c:23  (branch probe 5: fk_check.cold+0x0)\n' +
    'fk_tail:33  drv/fake.c:33  (branch probe 7: fk_tail+0x8)\n' +
    'fk_zero:62  drv/fake.c:62  (branch probe 14: fk_zero+0xa)\n')
  const all = fakeRun(true)
  all.state = all.state.map((s) => s | ProbeState.HIT)
  assert.equal((await cli(['unhit', '--out', savedRun('unhit-none', all)])).stdout, 'none: every function probe was hit\n')
})

test('callers: the saved callers with their call sites; the fix when they were not recorded', async () => {
  const dir = savedRun('callers', fakeRun(true))
  const r = await cli(['callers', 'fk_ifelse', '--out', dir])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, `fk_ifelse (drv/fake.c:11): 2 callers, 3 calls
calls  caller                      source
    2  fk_zero+0x9/0x10 [fakemod]  drv/fake.c:61
    1  vfs_ioctl+0x22/0x40
`)
  assert.equal((await cli(['callers', 'fk_check', '--out', dir])).stdout, `fk_check (drv/fake.c:21): 1 caller, 4 calls
calls  caller                         source
    1  fk_ifelse+0x20/0x30 [fakemod]  drv/fake.c:16
3 calls from more callers than the module records (max_callers)
`)
  assert.equal((await cli(['callers', 'fk_tail', '--out', dir])).stdout, 'fk_tail (drv/fake.c:31): not called\n')
  assert.equal((await cli(['callers', 'fk_init', '--out', dir])).stdout, 'fk_init (drv/fake.c:41): the kernel refused its entry probe: no callers recorded\n')
  assert.equal((await cli(['callers', 'fk_scale.isra.0', '--out', dir])).stdout, 'fk_scale (drv/fake.c:50): not called\n')
  assert.deepEqual(await cli(['callers', 'fk_nope', '--out', dir]), {
    status: 1, stdout: '', stderr: 'kprobecov: no function fk_nope in fakemod: check the name (kprobecov status lists the functions)\n',
  })
  assert.deepEqual(await cli(['callers', 'fk_ifelse', '--out', savedRun('no-callers', fakeRun(false))]), {
    status: 1, stdout: '', stderr: 'kprobecov: this run was made without --callers: run it again with kprobecov run --callers\n',
  })
})

test('paths: hash_32 as the kernel computes it', () => {
  // include/linux/hash.h: (val * 0x61C88647) >> (32 - bits), in 32 bits.
  assert.equal(hash32(1, 8), 0x61)
  assert.equal(hash32(2, 8), 0xc3)
  assert.equal(hash32(3, 8), 0x25)
  assert.equal(hash32(0x12345678, 24), Number((0x12345678n * 0x61c88647n & 0xffffffffn) >> 8n))
  // kmod/hit.c: bucket = ((h(prev) >> 1) ^ h(cur)) & mask; a task's first hit: h(cur).
  assert.equal(edgeBucket(1, 2, 8), (0x61 >> 1) ^ 0xc3)
  assert.equal(edgeBucket(undefined, 3, 8), 0x25)
})

test('paths: candidate edges inside the functions entered, hit calls, and what hashing means', async () => {
  const dir = savedRun('paths', fakeRun(false))
  const r = await cli(['paths', '--out', dir])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, `within functions: 4 of 8 candidate edges hit (fall-through to the next block, branch arms); 3 functions never entered are not listed; hit by chance: under 0.01
  hit       2  fk_ifelse:11 -> fk_ifelse:13
  hit       1  fk_ifelse:11 -> fk_ifelse:15
  miss         fk_ifelse:13 -> fk_ifelse:15
  hit       1  fk_check:21 -> fk_check:26
  miss         fk_check:21 -> fk_check:23
  hit       1  fk_zero:61 -> fk_zero+0x6
  miss         fk_zero:61 -> fk_zero:62
  miss         fk_zero+0x6 -> fk_zero:62
calls: 1 of 24 candidate edges from a hit probe to a hit function entry hit; hit by chance: under 0.01
  call      2  fk_zero+0x6 -> fk_scale.constprop.0+0x0
1 hit buckets match no candidate edge (returns, unconditional jumps)
note: edges are hashed into 2^16 buckets, 7 of them hit: an edge shares a hit bucket by chance with probability 0.011% and then looks hit although only the other edge ran (more --edge-bits make that rarer)
`)
  const dot = await cli(['paths', '--out', dir, '--dot'])
  assert.match(dot.stdout, /^\/\/ kprobecov paths: edges are hashed into 2\^16 buckets/)
  assert.match(dot.stdout, /^digraph kprobecov \{$/m)
  assert.match(dot.stdout, /^ {2}subgraph "cluster_0" \{\n {4}label="fk_ifelse";$/m)
  assert.match(dot.stdout, /^ {4}p2 \[label="fk_ifelse:15\\n1"\];$/m)
  assert.match(dot.stdout, /^ {4}p5 \[label="fk_check:23\\n0", color=gray, fontcolor=gray\];$/m)
  assert.match(dot.stdout, /^ {2}p0 -> p1 \[label="2"\];$/m)
  assert.match(dot.stdout, /^ {2}p1 -> p2 \[style=dashed, color=gray\];$/m)
  assert.match(dot.stdout, /^ {2}p13 -> p10 \[label="2", color=blue\];$/m)
  assert.match(dot.stdout, /\}\n$/)
  const noEdges = fakeRun(false)
  noEdges.edges = undefined
  assert.deepEqual(await cli(['paths', '--out', savedRun('no-edges', noEdges)]), {
    status: 1, stdout: '', stderr: 'kprobecov: this run has no edge counters: run it again with kprobecov run --edge-bits N (N > 0)\n',
  })
})

test('merge: lcov and Istanbul JSON into one report; a missing or broken file is one line', async () => {
  const lcov = (n: number, m: number) => `TN:\nSF:drv/fake.c\nFN:10,fk_ifelse\nFNDA:${n},fk_ifelse\nDA:11,${n}\nDA:13,${m}\nend_of_record\n`
  const a = path.join(base, 'a.info')
  const b = path.join(base, 'b.info')
  writeFileSync(a, lcov(1, 0))
  writeFileSync(b, lcov(2, 5))
  const out = path.join(base, 'merged')
  const r = await cli(['merge', a, b, '--out', out, '--root', root, '-r', 'lcovonly', '-r', 'json'])
  assert.equal(r.status, 0, r.stderr)
  const merged = readFileSync(path.join(out, 'lcov.info'), 'utf8')
  assert.match(merged, /^SF:drv\/fake\.c$/m)
  assert.match(merged, /^FNDA:3,fk_ifelse$/m)
  assert.match(merged, /^DA:11,3$/m)
  assert.match(merged, /^DA:13,5$/m)
  // Its Istanbul JSON merges again with an lcov file, entry for entry.
  const again = path.join(base, 'merged-again')
  assert.equal((await cli(['merge', path.join(out, 'coverage-final.json'), a, '--out', again, '--root', root, '-r', 'lcovonly'])).status, 0)
  assert.match(readFileSync(path.join(again, 'lcov.info'), 'utf8'), /^DA:11,4$/m)

  const missing = path.join(base, 'missing.info')
  assert.deepEqual(await cli(['merge', a, missing, '--out', path.join(base, 'never')]), {
    status: 1, stdout: '', stderr: `kprobecov: ${missing} does not exist: give lcov or Istanbul JSON files to merge\n`,
  })
  const broken = path.join(base, 'broken.json')
  writeFileSync(broken, '{ nope')
  const r2 = await cli(['merge', broken, '--out', path.join(base, 'never')])
  assert.equal(r2.status, 1)
  assert.match(r2.stderr, new RegExp(`^kprobecov: ${broken}: not JSON \\(.*\\)\\n$`))
  assert.equal(existsSync(path.join(base, 'never')), false)
})
