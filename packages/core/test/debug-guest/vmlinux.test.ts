// Built-in kernel code measured with the CLI, in a QEMU guest booted with the debug kernel,
// as root, with build/debug/kmod/kprobecov.ko loaded (by the runner) and:
//   KPROBECOV_DEBUG_VMLINUX  the debug kernel's vmlinux with DWARF (next to its bzImage)
//   KPROBECOV_KERNEL_SRC     a directory holding that kernel's kernel/sys.c (from the
//                            linux-source tarball it was built from)
// The command measured is perl calling getpriority(2): SYSCALL_DEFINE2(getpriority, ...)
// of kernel/sys.c, which x86-64 compiles into __x64_sys_getpriority. The lines it must
// and must not run are found in the source text, by the statements they hold.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { release, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { readRun } from '../../src/cli/record.ts'
import { moduleLoaded } from '../../src/device/system.ts'
import { cli, lcovLines } from '../cli-helpers.ts'

const root = resolve(import.meta.dirname, '../../../..')
const VMLINUX = process.env.KPROBECOV_DEBUG_VMLINUX ?? ''
const SRC = process.env.KPROBECOV_KERNEL_SRC ?? ''
const FUNCTION = '__x64_sys_getpriority'
const SF = 'kernel/sys.c'
let tmp = ''

before(() => {
  assert.ok(VMLINUX !== '' && SRC !== '', 'set KPROBECOV_DEBUG_VMLINUX (the debug kernel\'s vmlinux) and KPROBECOV_KERNEL_SRC (a tree with its kernel/sys.c)')
  assert.ok(moduleLoaded('kprobecov'), 'the runner loads build/debug/kmod/kprobecov.ko')
  tmp = mkdtempSync(join(tmpdir(), 'kpc-vmlinux-guest-'))
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const kpc = (...argv: string[]) => cli(argv, { cwd: root })

/** getpriority's lines in the source: where it starts, ends, and the line of each statement. */
function getpriority(): { start: number; end: number; line: (statement: string) => number } {
  const lines = readFileSync(join(SRC, SF), 'utf8').split('\n')
  const start = lines.findIndex((l) => l.startsWith('SYSCALL_DEFINE2(getpriority,')) + 1
  assert.ok(start > 0, `no SYSCALL_DEFINE2(getpriority, in ${SF}`)
  const end = lines.findIndex((l, i) => i >= start && l === '}') + 1
  assert.ok(end > start, 'the end of getpriority')
  const line = (statement: string): number => {
    const i = lines.findIndex((l, k) => k >= start && k < end && l.trim() === statement)
    assert.ok(i >= 0, `no '${statement}' in getpriority`)
    return i + 1
  }
  return { start, end, line }
}

test('run --module vmlinux --functions: the PRIO_PROCESS path of who == 0 and the EINVAL return, nothing of PRIO_PGRP and PRIO_USER', async () => {
  const out = join(tmp, 'getpriority')
  // getpriority(PRIO_PROCESS, 0): the calling process itself (p = current); getpriority(99, 0):
  // which > PRIO_USER, -EINVAL before the switch. perl calls getpriority(2) nowhere else.
  const r = await kpc('run', '--module', `vmlinux=${VMLINUX}`, '--functions', FUNCTION, '--granularity', 'line', '--root', SRC,
    '--out', out, '--', 'perl', '-e', 'getpriority(0, 0); $! = 0; getpriority(99, 0) == -1 && $!{EINVAL} or exit 3')
  assert.equal(r.status, 0, r.stderr)
  const run = readRun(out)
  const { start, end, line } = getpriority()
  const fn = run.plan.functions.find((f) => f.name === FUNCTION)
  assert.ok(fn, `${FUNCTION} is planned`)
  assert.deepEqual([run.plan.files[fn.file], fn.line], [SF, start])
  assert.ok(fn.endLine <= end)
  const lines = lcovLines(out, SF)
  const hit = (l: number) => (lines.get(l) ?? 0) > 0
  const missed = (l: number) => lines.get(l) === 0
  // Each statement below has line rows of its own in the debug kernel's code (its own basic
  // block: the plan's probes prove them). The `case PRIO_PGRP:` and `case PRIO_USER:` labels
  // have none (the switch is compiled into compares at the `switch` line), nor do the
  // `break;`s (jumps to the shared out_unlock code): the first statements of each case stand
  // for the case.
  for (const statement of ['return -EINVAL;', 'p = current;']) assert.ok(hit(line(statement)), `'${statement}' (line ${line(statement)}) hit`)
  for (const statement of ['p = find_task_by_vpid(who);', 'pgrp = find_vpid(who);', 'pgrp = task_pgrp(current);', 'uid = make_kuid(cred->user_ns, who);']) {
    assert.ok(missed(line(statement)), `'${statement}' (line ${line(statement)}) instrumented and not hit`)
  }
  // Every line of kernel/sys.c in the report is getpriority's.
  for (const l of lines.keys()) assert.ok(l >= start && l <= end, `line ${l} of ${SF} is outside getpriority (${start}-${end})`)
})

test('--module vmlinux without globs: a usage error naming the fix', async () => {
  assert.deepEqual(await kpc('run', '--module', `vmlinux=${VMLINUX}`, '--', 'true'), {
    status: 2, stdout: '',
    stderr: "kprobecov run: --module vmlinux needs --sources GLOB or --functions GLOB, e.g. --sources 'fs/ext4/**': all of the kernel is too many probes (see kprobecov run --help)\n",
  })
})

test('a vmlinux without debug info (the stock kernel\'s): one line naming the debug package, exit 1', async () => {
  const image = /^KERNEL_IMAGE=(.*)$/m.exec(readFileSync(join(root, 'build/setup.env'), 'utf8'))?.[1]
  assert.ok(image, 'build/setup.env names KERNEL_IMAGE')
  const R = release()
  assert.deepEqual(await kpc('run', '--module', `vmlinux=${image}`, '--functions', FUNCTION, '--out', join(tmp, 'never'), '--', 'true'), {
    status: 1, stdout: '',
    stderr: `kprobecov: ${image} has no debug info: install linux-image-${R}-dbg (Debian) or give its path: --module vmlinux=PATH\n`,
  })
})
