// The KCOV backend against the debug kernel (CONFIG_KCOV, KCOV_INSTRUMENT_ALL,
// KCOV_ENABLE_COMPARISONS), in its QEMU guest as root: run-in-guest.sh runs it.
// The example driver (examples/kvstore, built against the debug kernel: instrumented) is
// driven from this process as its test suites do, measured by TestRun and
// WorkerAttachment as the front ends do, with backend 'kcov' and, for the cross-check,
// 'kprobe' (kprobecov.ko of the debug build). Expected lines are found in the driver's
// source by their text. Order matters: KCOV state is per thread and per process.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { KvStore } from '../../../../examples/kvstore/src/kvstore.ts'
import { traceComparisons } from '../../src/kcov/comparisons.ts'
import { resolveKprobecovOptions, type KcovOptions } from '../../src/testrun/options.ts'
import { TestRun } from '../../src/testrun/test-run.ts'
import { WorkerAttachment } from '../../src/testrun/worker.ts'
import type { WorkerSample } from '../../src/testrun/sample.ts'
import { moduleLoaded } from '../../src/device/system.ts'
import { cli } from '../cli-helpers.ts'

const repo = path.resolve(import.meta.dirname, '../../../..')
const example = path.join(repo, 'examples/kvstore')
const source = path.join(example, 'driver/kvstore.c')
const ko = process.env.KPROBECOV_KVSTORE_KO ?? path.join(repo, 'build/debug/examples/kvstore/driver/kvstore.ko')
const kprobecovKo = process.env.KPROBECOV_KO ?? path.join(repo, 'build/debug/kmod/kprobecov.ko')
const FILE = 'driver/kvstore.c'
const quiet = { write: () => true }
let tmp = ''

/** The line of kvstore.c holding `text` (the first). */
function lineOf(text: string): number {
  const i = readFileSync(source, 'utf8').split('\n').findIndex((l) => l.includes(text))
  assert.ok(i >= 0, `no line with ${text}`)
  return i + 1
}

const insmod = (file: string) => execFileSync('insmod', [file])
const rmmod = (name: string) => execFileSync('rmmod', [name])

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-kcov-guest-'))
  if (!moduleLoaded('kvstore')) insmod(ko)
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

interface Measured {
  /** Lines of kvstore.c that are statements, and those with a hit. */
  statements: Set<number>
  covered: Set<number>
  sample: WorkerSample
}

/** fn measured as a test worker would be, with the given backend, in this process. */
async function measure(backend: 'kcov' | 'kprobe', fn: () => unknown, o: { kcov?: KcovOptions; loadedByTests?: boolean } = {}): Promise<Measured> {
  const options = resolveKprobecovOptions(
    { modules: [{ name: 'kvstore', object: ko, ...(o.loadedByTests ? { loadedByTests: true } : {}) }], backend, ...(o.kcov ? { kcov: o.kcov } : {}) },
    example, 'test', {},
  )
  const run = TestRun.open({ ...options, root: example, stderr: quiet })
  try {
    assert.equal(run.backend, backend)
    await run.armed // kprobes are planted in the background; a worker waits for them too
    const attachment = WorkerAttachment.attach('tree', run.env)
    assert.ok(attachment)
    let sample: WorkerSample
    try {
      await attachment.ready()
      await fn()
      sample = attachment.take()
    } finally {
      attachment.close()
    }
    run.addSample('t.test.ts', sample)
    const fc = run.results().perTest['t.test.ts']![FILE]!
    const statements = new Set<number>()
    const covered = new Set<number>()
    for (const [k, loc] of Object.entries(fc.statementMap)) {
      statements.add(loc.start.line)
      if ((fc.s[k] ?? 0) > 0) covered.add(loc.start.line)
    }
    if (backend === 'kcov') {
      assert.equal(sample.kcov?.unknown, 0, `PCs that are no call site: first ${sample.kcov?.firstUnknown}`)
      assert.equal(sample.kcov?.overflows, 0)
    }
    return { statements, covered, sample }
  } finally {
    run.close()
  }
}

/** Lines covered by one and not the other, among the lines both count as statements. */
function differences(a: Measured, b: Measured): { onlyA: number[]; onlyB: number[] } {
  const both = [...a.statements].filter((l) => b.statements.has(l)).sort((x, y) => x - y)
  return { onlyA: both.filter((l) => a.covered.has(l) && !b.covered.has(l)), onlyB: both.filter((l) => b.covered.has(l) && !a.covered.has(l)) }
}

const setKey = (key: string) => () => {
  const kv = KvStore.open()
  try {
    kv.set(key, 'v')
  } finally {
    kv.close()
  }
}

// Before anything traces this thread for coverage.
test('comparison operands: the write\'s size against KVSTORE_CMD_MAX, at its line, with the operands', async () => {
  const cmd = 'set cmp.key value\n'
  const { comparisons } = await traceComparisons([{ name: 'kvstore', object: ko }], () => {
    const kv = KvStore.open()
    try {
      kv.command(cmd)
    } finally {
      kv.close()
    }
  })
  const line = lineOf('if (count > KVSTORE_CMD_MAX)')
  const at = comparisons.filter((c) => c.line === line)
  assert.ok(at.length > 0, `no comparison at line ${line}: ${JSON.stringify(comparisons.map((c) => `${c.function}:${c.line}`))}`)
  assert.ok(at.some((c) => c.constant && c.arg1 === 256n && c.arg2 === BigInt(cmd.length) && c.size === 8 && c.count === 1n),
    JSON.stringify(at, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)))
  assert.ok(comparisons.every((c) => c.file === source && c.function.startsWith('kvstore_')))
  assert.ok(comparisons.some((c) => c.function === 'kvstore_valid_key'))
})

test("without threadPool, what libuv's pool does for fs.promises is missed; with it, it counts", async () => {
  const write = lineOf('cmd = memdup_user_nul(ubuf, count);')
  const asyncWrite = () => writeFile('/dev/kvstore', 'set pool.key v\n')
  const off = await measure('kcov', asyncWrite, { kcov: { threadPool: false } })
  assert.ok(!off.covered.has(write), 'kvstore_write counted without the pool traced')
  const on = await measure('kcov', asyncWrite)
  assert.ok(on.covered.has(write), 'kvstore_write not counted with the pool traced')
  assert.ok((on.sample.kcov?.threads ?? 0) >= 5, `threads traced: ${on.sample.kcov?.threads}`)
  assert.equal(on.sample.kcov?.poolError, undefined)
})

test('a set: exactly the lines of its path, and the same lines as with kprobes', async () => {
  const kcov = await measure('kcov', setKey('kcov.path'))
  for (const text of ['if (count > KVSTORE_CMD_MAX)', 'cmd = memdup_user_nul(ubuf, count);', 'verb = strsep(&args, " ");',
    'ret = kvstore_cmd_set(args);', 'ret = kvstore_valid_key(key);', 'ret = kvstore_valid_value(value);',
    'ret = kvstore_set_locked(key, value);', 'kvstore.sets++;', 'int i = kvstore_find(key);', 'return -ENOENT;',
    'entry = kzalloc(sizeof(*entry), GFP_KERNEL);', 'kvstore.table[kvstore.count++] = entry;', 'return ret ? ret : (ssize_t)count;']) {
    assert.ok(kcov.covered.has(lineOf(text)), `not covered: ${text}`)
  }
  for (const text of ['return -EMSGSIZE;', 'ret = kvstore_cmd_del(args);', 'kvstore_clear_locked();', 'return -ENOSPC;',
    'strscpy_pad(kvstore.table[i]->value, value, KVSTORE_VALUE_SIZE);', 'len += scnprintf(buf + len, size - len, "%s=%s\\n",',
    'return kvstore_ioctl_get(argp);']) {
    assert.ok(kcov.statements.has(lineOf(text)) && !kcov.covered.has(lineOf(text)), `covered or not a statement: ${text}`)
  }
  // module_init ran before the run (kvstore was loaded): its freed code is not measured.
  assert.ok(!kcov.statements.has(lineOf('kvstore.table = kcalloc(max_entries, sizeof(*kvstore.table), GFP_KERNEL);')))
  const kprobe = await measure('kprobe', setKey('kprobe.path'))
  assert.deepEqual(differences(kcov, kprobe), { onlyA: [], onlyB: [] })
})

// kvstore was loaded before: its module_init ran and its __init code is freed. Neither
// backend measures that code (kprobes cannot plant there; KCOV leaves the freed range out,
// where other code may be loaded by now): kvstore_init's lines are no statements in either.
test('cross-check: the suites\' cases under kprobes and under KCOV cover the same lines', async () => {
  const cases = async () => {
    for (const file of ['store', 'errors', 'stats']) {
      const { cases: c } = await import(path.join(example, 'test/cases', `${file}.ts`)) as { cases: Record<string, () => void> }
      for (const body of Object.values(c)) body()
    }
  }
  const kcov = await measure('kcov', cases)
  const kprobe = await measure('kprobe', cases)
  const d = differences(kcov, kprobe)
  assert.deepEqual(d, { onlyA: [], onlyB: [] }, `kcov only: ${d.onlyA.join(' ')}; kprobe only: ${d.onlyB.join(' ')}`)
  // Lines only one backend counts as statements: blocks without a KCOV callback (KCOV
  // cannot see them; not instrumented), and nothing else.
  const onlyKprobe = [...kprobe.statements].filter((l) => !kcov.statements.has(l))
  const onlyKcov = [...kcov.statements].filter((l) => !kprobe.statements.has(l))
  assert.deepEqual(onlyKcov, [])
  const init = lineOf('kvstore.table = kcalloc(max_entries, sizeof(*kvstore.table), GFP_KERNEL);')
  assert.ok(!kcov.statements.has(init) && !kprobe.statements.has(init), 'kvstore_init is measured after it was freed')
  assert.ok(onlyKprobe.length <= 3, `statements KCOV cannot see: ${onlyKprobe.join(' ')}`)
  assert.ok(kcov.covered.size > 40, `${kcov.covered.size} lines covered`)
})

test('a child process is traced (preload library): its write counts; without children it does not', async () => {
  const write = lineOf('ret = kvstore_cmd_set(args);')
  const child = () => execFileSync('/bin/sh', ['-c', 'echo "set child.key v" > /dev/kvstore'])
  const on = await measure('kcov', child)
  assert.ok(on.covered.has(write))
  assert.ok((on.sample.kcov?.children ?? 0) >= 1)
  const off = await measure('kcov', child, { kcov: { children: false } })
  assert.ok(!off.covered.has(write))
})

// kvstore is loaded when the run opens: kprobecov.ko cannot plant on its freed __init
// code then (ENOENT), and plants those probes when the tests load it again.
test('module_init run by insmod (a child of the test): covered with loadedByTests, as with kprobes', async () => {
  const init = lineOf('kvstore.table = kcalloc(max_entries, sizeof(*kvstore.table), GFP_KERNEL);')
  const reload = () => {
    rmmod('kvstore')
    execFileSync('insmod', [ko])
  }
  // Before each run, not measured: a store with an entry, so that both runs' kvstore_exit frees one.
  setKey('init.key')()
  const kcov = await measure('kcov', reload, { loadedByTests: true })
  assert.ok(kcov.covered.has(init), 'kvstore_init not covered under KCOV')
  setKey('init.key')()
  const kprobe = await measure('kprobe', reload, { loadedByTests: true })
  assert.ok(kprobe.covered.has(init), 'kvstore_init not covered under kprobes')
  const d = differences(kcov, kprobe)
  assert.deepEqual(d, { onlyA: [], onlyB: [] })
})

// The shell writes, then execs dd (dash runs a -c script's last command in its own
// process): two programs of one pid each write their records (two files, none lost).
test('kprobecov run --backend kcov: a shell script\'s writes, in lcov', async () => {
  const out = path.join(tmp, 'cli-run')
  const r = await cli(['run', '--backend', 'kcov', '-m', `kvstore=${ko}`, '--root', example, '--out', out, '-r', 'lcovonly', '--',
    '/bin/sh', '-c', 'echo "set cli.key v" > /dev/kvstore; dd if=/dev/kvstore of=/dev/null bs=4096 2>/dev/null'])
  assert.equal(r.status, 0, r.stderr)
  const lcov = readFileSync(path.join(out, 'lcov.info'), 'utf8')
  assert.match(lcov, new RegExp(`^DA:${lineOf('ret = kvstore_cmd_set(args);')},[1-9]`, 'm'))
  assert.match(lcov, new RegExp(`^DA:${lineOf('ret = simple_read_from_buffer(ubuf, count, ppos, buf, len);')},[1-9]`, 'm'))
  assert.match(lcov, new RegExp(`^DA:${lineOf('return -EMSGSIZE;')},0$`, 'm'))
  assert.match(readFileSync(path.join(out, 'kprobecov-run.json'), 'utf8'), /"backend":"kcov"/)
})

test('kprobecov cmp: the comparisons of a command, at their lines', async () => {
  const cmd = 'set cmp.cli v'
  const r = await cli(['cmp', '-m', `kvstore=${ko}`, '--root', example, '--json', '--', '/bin/sh', '-c', `echo "${cmd}" > /dev/kvstore`])
  assert.equal(r.status, 0, r.stderr)
  const rows = JSON.parse(r.stdout) as Array<{ file: string; line: number; arg1: string; arg2: string; constant: boolean }>
  const line = lineOf('if (count > KVSTORE_CMD_MAX)')
  const size = `0x${(cmd.length + 1).toString(16)}`
  assert.ok(rows.some((x) => x.file === FILE && x.line === line && x.constant && x.arg1 === '0x100' && x.arg2 === size), r.stdout)
})

test('setup errors name the fix: a module built without KCOV\'s instrumentation', async () => {
  const plain = path.join(repo, 'examples/kvstore/driver/kvstore.ko')
  if (!existsSync(plain)) return
  const options = resolveKprobecovOptions({ modules: [{ name: 'kvstore', object: plain, loadedByTests: true }], backend: 'kcov' }, example, 'test', {})
  assert.throws(() => TestRun.open({ ...options, root: example, stderr: quiet }), /has no KCOV instrumentation|is not the loaded kvstore/)
})
