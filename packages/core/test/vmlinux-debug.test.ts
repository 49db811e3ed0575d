// Planning built-in code from a REAL vmlinux with DWARF: the debug kernel's (make
// debug-kernel builds it; its vmlinux is next to DEBUG_KERNEL_IMAGE of
// build/debug-kernel.env), named by KPROBECOV_DEBUG_VMLINUX. The facts checked come from
// the kernel's source text: kernel/sys.c of $KPROBECOV_KERNEL_SRC, else extracted here from
// the linux-source tarball the debug kernel is built from.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createCoverageMapper } from '../src/coverage/coverage-map.ts'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { loadTargetDebugInfo } from '../src/native/target.ts'
import { planProbes } from '../src/plan/plan.ts'

const VMLINUX = process.env.KPROBECOV_DEBUG_VMLINUX
const FUNCTION = '__x64_sys_getpriority'
let tmp = ''
let source: string[] = []
let di: DebugInfo

before(() => {
  assert.ok(VMLINUX, 'KPROBECOV_DEBUG_VMLINUX is not set: run make debug-kernel, and set it to the vmlinux next to DEBUG_KERNEL_IMAGE of build/debug-kernel.env')
  assert.ok(existsSync(VMLINUX), `KPROBECOV_DEBUG_VMLINUX=${VMLINUX} does not exist: run make debug-kernel`)
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-vmlinux-debug-'))
  let src = process.env.KPROBECOV_KERNEL_SRC
  if (!src) {
    const tarball = readdirSync('/usr/src').find((f) => /^linux-source-[\d.]+\.tar\.xz$/.test(f))
    assert.ok(tarball, 'no /usr/src/linux-source-*.tar.xz: run make debug-kernel (it installs linux-source)')
    execFileSync('tar', ['-xJf', path.join('/usr/src', tarball), '-C', tmp, '--strip-components=1', `${tarball.replace(/\.tar\.xz$/, '')}/kernel/sys.c`])
    src = tmp
  }
  source = readFileSync(path.join(src, 'kernel/sys.c'), 'utf8').split('\n')
  di = loadTargetDebugInfo('vmlinux', VMLINUX)
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const plan = (target: { functions?: string[]; sources?: string[] }) =>
  planProbes([{ target: { name: 'vmlinux', object: VMLINUX!, granularity: 'line', ...target }, debugInfo: di }], { root: '/usr/src/linux' })

test(`--functions ${FUNCTION}: SYSCALL_DEFINE2(getpriority, ...) of kernel/sys.c, with probes on its lines only`, () => {
  const start = source.findIndex((l) => l.startsWith('SYSCALL_DEFINE2(getpriority,')) + 1
  const end = source.findIndex((l, i) => i >= start && l === '}') + 1
  assert.ok(start > 0 && end > start, 'getpriority in kernel/sys.c')
  const p = plan({ functions: [FUNCTION] })
  assert.deepEqual(p.functions.map((f) => ({ name: f.name, file: p.files[f.file], line: f.line })), [{ name: FUNCTION, file: 'kernel/sys.c', line: start }])
  assert.ok(p.functions[0]!.endLine > start && p.functions[0]!.endLine <= end)
  assert.ok(p.probes.length > 0)
  assert.equal(p.probes[p.functions[0]!.entryProbe!]!.offset, 0)
  const sysLines = p.probes.flatMap((probe) => probe.lines.filter(([f]) => p.files[f] === 'kernel/sys.c').map(([, l]) => l))
  assert.ok(sysLines.length > 10)
  for (const l of sysLines) assert.ok(l >= start && l <= end, `line ${l} is outside getpriority (${start}-${end})`)
  // The EINVAL return is a line of its own.
  assert.ok(sysLines.includes(source.findIndex((l, i) => i >= start && l.trim() === 'return -EINVAL;') + 1))
  // Reports name it kernel/sys.c, whatever the root.
  const files = (createCoverageMapper(p, undefined, { root: '/usr/src/linux', allowExternal: false })
    .toCoverageMap(new BigUint64Array(p.probes.length)).files())
  assert.ok(files.includes('kernel/sys.c'), files.join(' '))
})

test('--sources kernel/sys.c: only the functions of kernel/sys.c, getpriority and setpriority among them', () => {
  const p = plan({ sources: ['kernel/sys.c'] })
  const names = p.functions.map((f) => f.name)
  assert.ok(names.includes(FUNCTION) && names.includes('__x64_sys_setpriority'), names.join(' '))
  assert.ok(names.length > 50, `${names.length} functions`)
  assert.deepEqual([...new Set(p.functions.map((f) => p.files[f.file]))], ['kernel/sys.c'])
})
