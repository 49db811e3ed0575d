// The kprobecov CLI against the real kprobecov.ko, in the QEMU guest (run.sh runs this
// file in a Node process of its own: it unloads and loads kpc_target). The command
// measured is kmod/tests/target/kpc_target_ctl, a plain program that runs kpc_target's
// ioctls; the lines it must cover are found by the "KPC:<name>" markers of
// kpc_target.c. The CLI runs in this process (main() with captured output), but once
// as its own bin.
//
// The figures that depend on the compiler (how many probes a function gets, their
// indices, which probes share a line) are derived from the plan of the .ko actually
// built; on the stock kernel (6.1, built with Debian 12's compiler) they are also
// checked against the values measured there, so that a change of the planner shows.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { release, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { readRun } from '../../src/cli/record.ts'
import { moduleLoaded } from '../../src/device/system.ts'
import type { Plan } from '../../src/plan/types.ts'
import { cli, lcovLines } from '../cli-helpers.ts'

const root = resolve(import.meta.dirname, '../../../..')
const ko = process.env.KPROBECOV_TARGET_KO ?? join(root, 'kmod/tests/target/kpc_target.ko')
const ctl = join(root, 'kmod/tests/target/kpc_target_ctl')
const source = join(root, 'kmod/tests/target/kpc_target.c')
const SF = 'kmod/tests/target/kpc_target.c'
const MODULE = `kpc_target=${ko}`
let tmp = ''

const [major = 0, minor = 0] = release().split('.').map(Number)
/** The stock kernel: the figures measured on it are checked exactly. */
const STOCK = major === 6 && minor === 1
/**
 * From 6.4 on (module_memory, commit ac3b43283923) a module's text is allocated alone,
 * so kprobes would decode past the end of its last function: kprobecov.ko refuses
 * probes there (EOVERFLOW). kpc_target's last function is then kpc_target_exit (its
 * __exit code, a section of its own); before 6.4 other text follows it.
 */
const TEXT_ALONE = major > 6 || (major === 6 && minor >= 4)
const LAST = 'kpc_target_exit'

before(() => {
  assert.ok(moduleLoaded('kprobecov') && moduleLoaded('kpc_target'), 'run.sh loads kprobecov and kpc_target')
  tmp = mkdtempSync(join(tmpdir(), 'kpc-cli-guest-'))
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const sourceLines = readFileSync(source, 'utf8').split('\n')
function marker(name: string): number {
  const i = sourceLines.findIndex((l) => l.includes(`KPC:${name} */`))
  assert.ok(i >= 0, `no marker KPC:${name}`)
  return i + 1
}

const kpc = (...argv: string[]) => cli(argv, { cwd: root })

const range = (plan: Plan, name: string): [number, number] => {
  const f = plan.functions.find((fn) => fn.name === name)
  assert.ok(f, `no function ${name} in the plan`)
  return [f.line, f.endLine]
}
/** The first line of probe p's block in its function's own file (what the CLI names it by). */
const firstLine = (plan: Plan, p: Plan['probes'][number]) =>
  (p.lines.find(([f]) => f === plan.functions[p.function]?.file) ?? p.lines[0])?.[1]
const probesOf = (plan: Plan, name: string) => plan.probes.filter((p) => plan.functions[p.function]?.name === name)
/** Probes on __init code, refused when the module was loaded before the command. */
const initProbes = (plan: Plan) => probesOf(plan, 'kpc_target_init').length + probesOf(plan, 'kpc_target_init_banner').length
/** Probes the kernel refuses besides the __init ones: those of the module's last function from 6.4 on. */
const lastProbes = (plan: Plan) => (TEXT_ALONE ? probesOf(plan, LAST).length : 0)
/** What the CLI says on stderr (progress or not) about the refusal of the last function's probes; '' before 6.4. */
function lastRefusal(plan: Plan): string {
  if (!TEXT_ALONE) return ''
  assert.ok(probesOf(plan, LAST)[0]?.offset === 0, `${LAST}'s entry probe comes first`)
  return `kprobecov: the kernel refused ${probesOf(plan, LAST).length} of ${plan.probes.length} probes (first: ${LAST}+0x0, ` +
    `EOVERFLOW: in the module's last function, which kprobes would decode past the end of the module's text): ` +
    'their lines are not counted (kprobecov status --probes lists them)\n'
}
/** A line's percentage as the text summary rounds it (down, to 2 decimals; no trailing zeros). */
const pct = (covered: number, total: number) => `${Math.floor((1000 * 100 * covered) / total / 10) / 100}%`
const inRange = (lines: Map<number, number>, [from, to]: [number, number]) =>
  [...lines.keys()].filter((l) => l >= from && l <= to).sort((x, y) => x - y)
const hitIn = (lines: Map<number, number>, r: [number, number]) => inRange(lines, r).filter((l) => lines.get(l)! > 0)

/** Functions whose lines a scenario decides completely: all run but the marked lines. */
function assertExact(lines: Map<number, number>, plan: Plan, name: string, unhitMarkers: string[]): void {
  const r = range(plan, name)
  const unhit = unhitMarkers.map(marker)
  for (const l of unhit) assert.ok(lines.has(l), `${name}: line ${l} is not instrumented`)
  assert.deepEqual(hitIn(lines, r), inRange(lines, r).filter((l) => !unhit.includes(l)), `${name}: lines hit`)
}

/** Functions the command never runs. */
const NEVER = ['kpc_target_seq', 'kpc_target_irq', 'kpc_target_timer_fn', 'kpc_target_fire_timer', 'kpc_target_drain_table', 'kpc_target_exit']
/** In the dispatchers (switch and error paths the compiler shares code between) the lines it keeps apart. */
const DISPATCH_HIT = ['call_times', 'call_a', 'call_b', 'call_branch', 'call_result',
  'ioctl_open', 'ioctl_copy_in', 'ioctl_reserved', 'ioctl_call', 'ioctl_ret', 'ioctl_copy_out', 'ioctl_ok']
const DISPATCH_UNHIT = ['call_timer', 'ioctl_info', 'ioctl_sum_loop', 'ioctl_sum', 'ioctl_info_ret', 'ioctl_einval']
/**
 * The dispatch markers this build keeps apart: a marker is left out where a probe that
 * proves its line also proves a marker of the other list (a newer compiler merges the
 * tails of the two copy_to_user calls, so one block carries ioctl_ok's or
 * ioctl_info_ret's line together with call_timer's). Every one on the stock kernel.
 */
function keptApart(plan: Plan, own: readonly string[], other: readonly string[]): string[] {
  const others = new Set(other.map(marker))
  const kept = own.filter((m) => !plan.probes.some((p) =>
    p.lines.some(([, l]) => l === marker(m)) && p.lines.some(([, l]) => others.has(l))))
  if (STOCK) assert.deepEqual(kept, own, 'the stock build keeps every dispatch marker apart')
  assert.ok(kept.length >= own.length / 2, `most dispatch markers are kept apart: ${kept.join(', ')}`)
  return kept
}

test('run --granularity line: exactly the lines the command ran; its exit status; the text summary', async () => {
  const out = join(tmp, 'line')
  const r = await kpc('run', '--module', MODULE, '--granularity', 'line', '--callers', '--out', out, '--',
    ctl, 'a', '0', 'b', '3', 'branch', '-3', 'exit', '3')
  assert.equal(r.status, 3, r.stderr)
  assert.match(r.stdout, /^=+ Coverage summary =+$/m)
  assert.ok(existsSync(join(out, 'kprobecov-run.json')))
  const run = readRun(out)
  assert.equal(r.stderr, lastRefusal(run.plan))
  if (STOCK) assert.equal(r.stderr, '')
  assert.deepEqual(run.command, [ctl, 'a', '0', 'b', '3', 'branch', '-3', 'exit', '3'])
  assert.equal(run.exitStatus, 3)
  const lines = lcovLines(out, SF)
  // a(0): acc stays even, the odd arm never runs. b(3): the default case. branch(-3): "neg".
  assertExact(lines, run.plan, 'kpc_target_a', ['a_odd'])
  assertExact(lines, run.plan, 'kpc_target_b', ['b_case0', 'b_case1', 'b_case2'])
  assertExact(lines, run.plan, 'kpc_target_branch', ['branch_info_pos', 'branch_info_neg', 'branch_info_ret', 'branch_pos', 'branch_pos_sink'])
  const instrumented = [...NEVER, 'kpc_target_fill_table'].filter((n) => !(TEXT_ALONE && n === LAST))
  for (const name of instrumented) {
    assert.deepEqual(hitIn(lines, range(run.plan, name)), [], `${name} never runs (fill_table: the module was loaded before)`)
    assert.ok(inRange(lines, range(run.plan, name)).length > 0, `${name} is instrumented`)
  }
  // module_init's code is gone: its probes are refused, its lines not instrumented; from
  // 6.4 on so are the last function's.
  const refused = ['kpc_target_init', 'kpc_target_init_banner', ...(TEXT_ALONE ? [LAST] : [])]
  for (const name of refused) assert.deepEqual(inRange(lines, range(run.plan, name)), [], name)
  for (const m of keptApart(run.plan, DISPATCH_HIT, DISPATCH_UNHIT)) assert.ok((lines.get(marker(m)) ?? 0) > 0, `${m} (line ${marker(m)}) hit`)
  for (const m of keptApart(run.plan, DISPATCH_UNHIT, DISPATCH_HIT)) assert.equal(lines.get(marker(m)), 0, `${m} (line ${marker(m)}) not hit`)
  // Nothing outside the functions that ran.
  const ran = ['kpc_target_a', 'kpc_target_b', 'kpc_target_branch', 'kpc_target_call', 'kpc_target_ioctl'].map((n) => range(run.plan, n))
  for (const [l, n] of lines) if (n > 0) assert.ok(ran.some(([a, b]) => l >= a && l <= b), `line ${l} hit outside the functions that ran`)
})

test('status, unhit and callers of the saved run', async () => {
  const out = join(tmp, 'line')
  const status = await kpc('status', '--out', out)
  assert.equal(status.status, 0, status.stderr)
  assert.match(status.stdout, /^kpc_target: \S+kpc_target\.ko \(build-id [0-9a-f]{12}, granularity line\)$/m)
  const plan = readRun(out).plan
  const lines = lcovLines(out, SF)
  const aProbes = probesOf(plan, 'kpc_target_a').length
  const aLines = `${hitIn(lines, range(plan, 'kpc_target_a')).length}/${inRange(lines, range(plan, 'kpc_target_a')).length}`
  const seqProbes = probesOf(plan, 'kpc_target_seq').length
  const banner = probesOf(plan, 'kpc_target_init_banner').length
  const refused = initProbes(plan) + lastProbes(plan)
  // The coverage line counts the probes the kernel accepted.
  const accepted = plan.probes.length - refused
  if (STOCK) assert.deepEqual([accepted, refused, aProbes, aLines, seqProbes, banner], [66, 4, 6, '9/10', 1, 3])
  // a(0): every block but the odd arm's (one block) ran.
  assert.match(status.stdout, new RegExp(`^kpc_target_a +${aProbes} +${aProbes} +${aProbes} +0 +0 +0 +${aProbes - 1} +${aLines}$`, 'm'))
  assert.match(status.stdout, new RegExp(`^kpc_target_seq +${seqProbes} +${seqProbes} +${seqProbes} +0 +0 +0 +0 +0/\\d+$`, 'm'))
  assert.match(status.stdout, new RegExp(`^kpc_target_init_banner +${banner} +0 +${banner} +0 +0 +${banner} +0 +0/0$`, 'm'))
  assert.match(status.stdout, new RegExp(`^coverage: \\d+ of ${accepted} probes hit \\(\\d+\\.\\d%\\), ${refused} refused by the kernel; lines \\d+ of \\d+ \\(\\d+\\.\\d%\\)$`, 'm'))

  const unhit = async (...args: string[]) => (await kpc('unhit', '--out', out, ...args)).stdout
  // The unhit probes in the plan's order (the order of the functions in the .ko's text,
  // the compiler's): those the kernel accepted that the saved counts leave at 0.
  const saved = readRun(out)
  const gone = new Set(['kpc_target_init', 'kpc_target_init_banner', ...(TEXT_ALONE ? [LAST] : [])])
  const unhitOf = (...kinds: string[]) => plan.probes.flatMap((p, i) =>
    kinds.includes(p.kind) && !gone.has(plan.functions[p.function]!.name) && saved.counts[i] === 0n ? [i] : [])
  const told = (i: number) => {
    const p = plan.probes[i]!
    const l = firstLine(plan, p)
    return new RegExp(`^${plan.functions[p.function]!.name}:${l}(?:\\+0x[0-9a-f]+)?  ${SF}:${l}  ` +
      `\\(${p.kind} probe ${i}: ${p.symbol}\\+0x${p.offset.toString(16)}\\)\\n$`)
  }
  const [first = -1, second = -1] = unhitOf('function')
  const [firstLineProbe = -1] = unhitOf('function', 'line', 'branch') // --kind line: any block
  // Entries never hit are those of the functions the command never ran.
  const notRun = [...NEVER, 'kpc_target_fill_table'].filter((n) => !gone.has(n))
  assert.deepEqual(unhitOf('function').map((i) => plan.functions[plan.probes[i]!.function]!.name).sort(), notRun.sort())
  const entry = (name: string) => plan.functions.find((f) => f.name === name)?.entryProbe
  const oddProbe = plan.probes.findIndex((p) =>
    p.kind === 'line' && plan.functions[p.function]?.name === 'kpc_target_a' && firstLine(plan, p) === marker('a_odd'))
  if (STOCK) {
    assert.deepEqual([first, second, firstLineProbe], [entry('kpc_target_seq'), entry('kpc_target_irq'), oddProbe])
    assert.deepEqual([first, second, firstLineProbe], [16, 17, 2])
    assert.equal(await unhit(), `kpc_target_seq:${marker('seq_open')}  ${SF}:${marker('seq_open')}  (function probe 16: kpc_target_seq+0x0)\n`)
    assert.match(await unhit('--kind', 'line'), new RegExp(`^kpc_target_a:${marker('a_odd')}  ${SF}:${marker('a_odd')}  \\(line probe 2: kpc_target_a\\+0x[0-9a-f]+\\)\\n$`))
  }
  assert.match(await unhit(), told(first))
  assert.match(await unhit('--skip', '1'), told(second))
  assert.match(await unhit('--kind', 'line'), told(firstLineProbe))

  const callers = await kpc('callers', 'kpc_target_a', '--out', out)
  assert.equal(callers.status, 0, callers.stderr)
  assert.match(callers.stdout, new RegExp(`^kpc_target_a \\(${SF}:${marker('a_open')}\\): 1 caller, 1 call\\n` +
    `calls  caller +source\\n    1  kpc_target_call\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[kpc_target\\]  ${SF}:${marker('call_a')}\\n$`))
  assert.equal((await kpc('callers', 'kpc_target_seq', '--out', out)).stdout, `kpc_target_seq (${SF}:${marker('seq_open')}): not called\n`)
})

test('the same queries measuring now: the kernel answers (NEXT_UNHIT, GET_CALLERS) as the saved run does', async () => {
  const scenario = ['--module', MODULE, '--granularity', 'line', '--', ctl, 'a', '0', 'b', '3', 'branch', '-3']
  const live = await kpc('unhit', '--kind', 'line', '--all', ...scenario)
  assert.equal(live.status, 0, live.stderr)
  const saved = await kpc('unhit', '--kind', 'line', '--all', '--out', join(tmp, 'line'))
  assert.equal(live.stdout, saved.stdout)
  assert.ok(live.stdout.split('\n').length > 20)

  const callers = await kpc('callers', 'kpc_target_b', '--module', MODULE, '--', ctl, 'b', '3', 'b', '1')
  assert.equal(callers.status, 0, callers.stderr)
  assert.match(callers.stdout, new RegExp(`^kpc_target_b \\(${SF}:${marker('b_open')}\\): 1 caller, 2 calls\\n` +
    `calls  caller +source\\n    2  kpc_target_call\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[kpc_target\\]  ${SF}:${marker('call_b')}\\n$`))

  const status = await kpc('status', '--module', MODULE, '--granularity', 'line')
  assert.equal(status.status, 0, status.stderr)
  const plan = readRun(join(tmp, 'line')).plan
  const aProbes = probesOf(plan, 'kpc_target_a').length
  const aLines = inRange(lcovLines(join(tmp, 'line'), SF), range(plan, 'kpc_target_a')).length
  const refused = initProbes(plan) + lastProbes(plan)
  const accepted = plan.probes.length - refused
  if (STOCK) assert.deepEqual([accepted, refused, aProbes, aLines], [66, 4, 6, 10])
  assert.match(status.stdout, new RegExp(`^kpc_target_a +${aProbes} +${aProbes} +${aProbes} +0 +0 +0 +0 +0/${aLines}$`, 'm'))
  assert.match(status.stdout, new RegExp(`^coverage: 0 of ${accepted} probes hit \\(0\\.0%\\), ${refused} refused by the kernel; `, 'm'))
})

test('paths: the branch edges a(0), branch(5) and branch(-3) take, those they do not, and a call', async () => {
  const out = join(tmp, 'branch')
  const r = await kpc('run', '--module', MODULE, '--out', out, '-r', 'none', '--', ctl, 'a', '0', 'branch', '5', 'branch', '-3')
  assert.equal(r.status, 0, r.stderr)
  const paths = await kpc('paths', '--out', out)
  assert.equal(paths.status, 0, paths.stderr)
  const edge = (word: string, count: string, from: string, to: string) =>
    new RegExp(`^  ${word} +${count}  ${from} -> ${to}$`, 'm')
  // A probe is named function:line by its block's first line; where blocks of one
  // function start on the same line, each name gets the probe's offset too.
  const plan = readRun(out).plan
  const at = (fn: string, m: string) => {
    const same = plan.probes.filter((p) => plan.functions[p.function]?.name === fn && firstLine(plan, p) === marker(m))
    assert.ok(same.length > 0, `a block of ${fn} starts at ${m}`)
    if (STOCK) assert.equal(same.length, 1, `${fn}:${marker(m)} is one block`)
    return same.length === 1 ? `${fn}:${marker(m)}` : `${fn}:${marker(m)}\\+0x(?:${same.map((p) => p.offset.toString(16)).join('|')})`
  }
  const a = (m: string) => at('kpc_target_a', m)
  const br = (m: string) => at('kpc_target_branch', m)
  assert.match(paths.stdout, edge('hit', '3', a('a_if'), a('a_even')))
  assert.match(paths.stdout, edge('miss', '', a('a_if'), a('a_odd')))
  assert.match(paths.stdout, edge('hit', '2', br('branch_open'), br('branch_if')))
  assert.match(paths.stdout, edge('miss', '', br('branch_open'), br('branch_info_pos')))
  assert.match(paths.stdout, edge('hit', '1', br('branch_if'), br('branch_pos')))
  assert.match(paths.stdout, edge('hit', '1', br('branch_if'), br('branch_neg')))
  assert.match(paths.stdout, new RegExp(`^  call +1  kpc_target_call\\S+ -> ${a('a_open')}$`, 'm'))
  assert.match(paths.stdout, /^note: edges are hashed into 2\^16 buckets, \d+ of them hit: /m)
  const dot = await kpc('paths', '--out', out, '--dot')
  assert.match(dot.stdout, /^digraph kprobecov \{$/m)
  assert.match(dot.stdout, /^ {2}subgraph "cluster_\d+" \{\n {4}label="kpc_target_a";$/m)
})

test('trace: the probes the command\'s thread hits, in order', async () => {
  const r = await kpc('trace', '--module', MODULE, '--granularity', 'function', '--', ctl, 'seq', '1')
  assert.equal(r.status, 0, r.stderr)
  const at = (fn: string, m: string) => `kpc_target_${fn}:${marker(m)}`
  assert.equal(r.stdout, [
    at('ioctl', 'ioctl_open'), at('call', 'call_open'), at('seq', 'seq_open'),
    at('a', 'a_open'), at('b', 'b_open'), at('branch', 'branch_open'), at('branch', 'branch_open'), at('a', 'a_open'), '',
  ].join('\n'))
})

test('watch: each probe once, when it is first hit, then a summary', async () => {
  const r = await kpc('watch', '--module', MODULE, '--granularity', 'function', '--', ctl, 'a', '0', 'b', '3', 'a', '1')
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  const summary = lines.pop()
  assert.match(summary ?? '', /^watch: 4 probes hit for the first time in \d+\.\d s; 4 of 14 probes hit \(28\.6%\)$/)
  const seen = lines.map((l) => /^\+\d+\.\d\ds {2}(\S+) {2}\S+$/.exec(l)?.[1])
  assert.deepEqual(seen.sort(), ['kpc_target_a', 'kpc_target_b', 'kpc_target_call', 'kpc_target_ioctl'].map((f) => {
    const m = { kpc_target_a: 'a_open', kpc_target_b: 'b_open', kpc_target_call: 'call_open', kpc_target_ioctl: 'ioctl_open' }[f]!
    return `${f}:${marker(m)}`
  }).sort())
})

test('watch every task (global) until Ctrl-C: a command started meanwhile is seen, then it ends cleanly', async () => {
  const runners = process.listeners('SIGINT')
  let attached: () => void = () => {}
  const ready = new Promise<void>((resolve) => (attached = resolve))
  const watching = cli(['watch', '--module', MODULE, '--granularity', 'function', '--duration', '60'], {
    cwd: root,
    onStderr: (text) => (text.startsWith('kprobecov: watching') ? attached() : undefined),
  })
  await Promise.race([ready, watching])
  execFileSync(ctl, ['b', '1'])
  await new Promise((resolve) => setTimeout(resolve, 300))
  // Ctrl-C, delivered to the CLI's handlers only (the test runner's would report an interrupt).
  for (const handler of process.listeners('SIGINT')) if (!runners.includes(handler)) handler('SIGINT')
  const r = await watching
  assert.equal(r.status, 0, r.stderr)
  // Function granularity: one probe per function, the last function's entry refused from 6.4 on.
  const refusal = TEXT_ALONE ? `kprobecov: the kernel refused 1 of 14 probes (first: ${LAST}+0x0, ` +
    `EOVERFLOW: in the module's last function, which kprobes would decode past the end of the module's text): ` +
    'their lines are not counted (kprobecov status --probes lists them)\n' : ''
  assert.equal(r.stderr, `${refusal}kprobecov: watching every task for 60 s; Ctrl-C ends it\n`)
  assert.match(r.stdout, new RegExp(`^\\+\\d+\\.\\d\\ds  kpc_target_b:${marker('b_open')}  ${SF}:${marker('b_open')}$`, 'm'))
  assert.match(r.stdout, /^watch: 3 probes hit for the first time in \d+\.\d s; 3 of 14 probes hit \(21\.4%\)$/m)
})

test('doctor on a working system', async () => {
  const doctor = await kpc('doctor', '--module', MODULE)
  assert.equal(doctor.status, 0, doctor.stdout)
  assert.doesNotMatch(doctor.stdout, /✗/)
  assert.match(doctor.stdout, /^✓ kprobes: available \(kernel \S+\)$/m)
  assert.match(doctor.stdout, /^✓ \/dev\/kprobecov: opens read-write, ABI 1 /m)
  assert.match(doctor.stdout, /^✓ kpc_target: loaded, and the same build as /m)
  assert.match(doctor.stdout, /^kprobecov is ready$/m)
})

test('the bin itself (a Node process of its own), with --progress on stderr', () => {
  const node = [process.execPath, ...(process.env.KPROBECOV_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')]
  const bin = join(root, 'packages/core/bin/kprobecov.ts')
  const out = join(tmp, 'bin')
  const run = spawnSync(node[0]!, [...node.slice(1), bin, 'run', '--module', MODULE, '-g', 'function', '--out', out, '--progress', '--', ctl, 'b', '1'],
    { encoding: 'utf8', cwd: root })
  assert.equal(run.status, 0, run.stderr)
  assert.match(run.stderr, /^kprobecov: planting 14 probes 14\/14$/m)
  assert.match(run.stderr, /^kprobecov: 2 probes on the __init code of kpc_target are not planted: /m)
  const plan = readRun(out).plan
  assert.equal(run.stderr.includes(lastRefusal(plan)), true, run.stderr)
  assert.equal(/EOVERFLOW/.test(run.stderr), TEXT_ALONE, run.stderr)
  // call, ioctl and b ran, of the functions whose entry probe was planted.
  const functions = plan.probes.length - initProbes(plan) - lastProbes(plan)
  if (STOCK) assert.equal(functions, 12)
  assert.match(run.stdout, new RegExp(`^Functions +: ${pct(3, functions)} \\( 3/${functions} \\)$`, 'm'))
  assert.match(readFileSync(join(out, 'lcov.info'), 'utf8'), /^FNDA:1,kpc_target_b$/m)
})

test('errors: a .ko that is not the loaded module, one without debug info, a missing device node', async () => {
  const id = readRun(join(tmp, 'line')).plan.targets[0]!.buildId
  const other = join(tmp, 'kpc_target.other.ko')
  const bytes = readFileSync(ko)
  const at = bytes.indexOf(Buffer.from(id, 'hex'))
  assert.ok(at > 0, 'the build-id is in the .ko')
  bytes[at] = bytes[at]! ^ 0xff
  writeFileSync(other, bytes)
  const wrong = await kpc('run', '--module', `kpc_target=${other}`, '--out', join(tmp, 'never'), '--', ctl, 'a', '0')
  const otherId = `${(parseInt(id.slice(0, 2), 16) ^ 0xff).toString(16).padStart(2, '0')}${id.slice(2, 12)}`
  assert.deepEqual(wrong, {
    status: 1, stdout: '',
    stderr: `kprobecov: ${other} is not the loaded kpc_target (build-id ${otherId}, loaded ${id.slice(0, 12)}): ` +
      `reload it (sudo rmmod kpc_target && sudo insmod ${other}) or point at the .ko it was loaded from\n`,
  })
  const stripped = join(tmp, 'kpc_target.stripped.ko')
  copyFileSync(ko, stripped)
  execFileSync('objcopy', ['--strip-debug', stripped])
  assert.deepEqual(await kpc('run', '--module', `kpc_target=${stripped}`, '--', ctl, 'a', '0'), {
    status: 1, stdout: '',
    stderr: `kprobecov: ${stripped} has no debug info: rebuild it with -g (CONFIG_DEBUG_INFO=y, or ccflags-y += -g for an out-of-tree module)\n`,
  })
  const noNode = await kpc('run', '--module', MODULE, '--device', '/dev/kprobecov-missing', '--', ctl, 'a', '0')
  assert.equal(noNode.status, 1)
  assert.match(noNode.stderr, /^kprobecov: \/dev\/kprobecov-missing is missing although kprobecov is loaded: mount devtmpfs on \/dev, or create the node/)
  assert.equal(existsSync(join(tmp, 'never')), false)
})

test('a module the command loads: module_init is covered, its __init probes are gone afterwards', async () => {
  execFileSync('rmmod', ['kpc_target'])
  assert.equal(moduleLoaded('kpc_target'), false)
  const out = join(tmp, 'loaded-by-command')
  const r = await kpc('run', '--module', MODULE, '--granularity', 'line', '--out', out, '--', 'sh', '-c', `insmod ${ko} && ${ctl} a 0 info`)
  assert.equal(r.status, 0, r.stderr)
  assert.ok(moduleLoaded('kpc_target'))
  const sum = Number(/^table_sum (\d+)$/m.exec(r.stdout)?.[1])
  assert.ok(Number.isInteger(sum), r.stdout)
  const run = readRun(out)
  assert.equal(run.modules[0]!.loaded, 'not-loaded')
  const lines = lcovLines(out, SF)
  for (const name of ['kpc_target_fill_table', 'kpc_target_init']) {
    const r2 = range(run.plan, name)
    assert.ok(inRange(lines, r2).length > 0)
    assert.deepEqual(hitIn(lines, r2), inRange(lines, r2), `${name} ran in module_init`)
  }
  const odd = sum % 2 === 1
  assert.equal((lines.get(marker('banner_odd')) ?? 0) > 0, odd, `banner_odd: the table's sum ${sum}`)
  assert.equal((lines.get(marker('banner_even')) ?? 0) > 0, !odd, `banner_even: the table's sum ${sum}`)
  assertExact(lines, run.plan, 'kpc_target_a', ['a_odd'])

  const status = await kpc('status', '--out', out, '--probes')
  assert.match(status.stdout, /granularity line, not loaded before the command\)$/m)
  assert.match(status.stdout, new RegExp(`^ *\\d+ +kpc_target_init_banner:${marker('banner_open')} +kpc_target_init_banner\\+0x0 +function +planted armed gone hit +1$`, 'm'))
  assert.match(status.stdout, new RegExp(`^ *\\d+ +kpc_target_init:${marker('init_open')} +kpc_target_init\\+0x0 +function +planted armed gone hit +1$`, 'm'))
})

test('a module loaded before that the command reloads: its __init probes are planted at the load, module_init is covered', async () => {
  assert.ok(moduleLoaded('kpc_target'), 'the test before loaded it')
  const out = join(tmp, 'reloaded-by-command')
  const r = await kpc('run', '--module', MODULE, '--granularity', 'function', '--progress', '--out', out, '--',
    'sh', '-c', `rmmod kpc_target && insmod ${ko} && ${ctl} a 0`)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /^kprobecov: 2 probes on the __init code of kpc_target are not planted: it ran when the module loaded \(reload it in the command to cover module_init: they are planted when it loads\)$/m)
  const run = readRun(out)
  assert.equal(/EOVERFLOW/.test(r.stderr), TEXT_ALONE, r.stderr)
  if (TEXT_ALONE) assert.ok(r.stderr.includes(lastRefusal(run.plan)), r.stderr)
  assert.equal(run.modules[0]!.loaded, 'match')
  const lcov = readFileSync(join(out, 'lcov.info'), 'utf8')
  for (const name of ['kpc_target_init', 'kpc_target_init_banner', 'kpc_target_a']) assert.match(lcov, new RegExp(`^FNDA:1,${name}$`, 'm'))
  assert.match(lcov, /^FNDA:0,kpc_target_b$/m)
  // The __init probes were planted at the reload; from 6.4 on the last function's stay refused.
  const notInstrumented = join(out, 'not-instrumented.json')
  assert.equal(existsSync(notInstrumented), TEXT_ALONE, 'the refused probes were planted at the reload')
  if (TEXT_ALONE) {
    const listed = (JSON.parse(readFileSync(notInstrumented, 'utf8')) as Array<{ path: string; line: number }>)
    const [from, to] = range(run.plan, LAST)
    assert.ok(listed.length > 0)
    for (const l of listed) assert.ok(l.path === SF && l.line >= from && l.line <= to, `${l.path}:${l.line} is a line of ${LAST}`)
  }
})
