// Built-in code (vmlinux) on the host, against a FAKE vmlinux: a static x86-64 executable
// built here with gcc -g from two files laid out as a kernel tree (init/main.c with
// start_kernel, kernel/sys.c), so that its debug info names them as a kernel's does
// (DW_AT_name relative, DW_AT_comp_dir the tree). FAKE /sys and file-system roots stand
// for the running kernel and its debug packages. The real vmlinux of the debug kernel is
// tested by vmlinux-debug.test.ts and, in its guest, by debug-guest/vmlinux.test.ts.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SystemSetup } from '../src/cli/io.ts'
import { prepareModules } from '../src/session/modules.ts'
import { reportPath } from '../src/coverage/paths.ts'
import { hasDwarf } from '../src/debuginfo/elf.ts'
import { kernelTree } from '../src/debuginfo/kernel-tree.ts'
import { vmlinuxCandidates, vmlinuxObjectPath } from '../src/device/vmlinux.ts'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { loadTargetDebugInfo } from '../src/native/target.ts'
import { planProbes } from '../src/plan/plan.ts'
import { resolveKprobecovOptions } from '../src/testrun/options.ts'
import { buildIdNote, cli } from './cli-helpers.ts'

const repo = path.resolve(import.meta.dirname, '../../..')
const ko = path.join(repo, 'build/native/fixture/kpc_fixture.ko')
const R = '6.1.0-fake'
const MAIN_C = 'int sys_counter;\nint fake_getpriority(int which, int who);\nvoid start_kernel(void)\n{\n\tsys_counter = fake_getpriority(0, 0);\n\tfor (;;)\n\t\t;\n}\n'
const SYS_C = 'extern int sys_counter;\n__attribute__((noinline)) int fake_getpriority(int which, int who)\n{\n\tif (which == 0)\n\t\treturn who;\n' +
  '\tif (which == 1)\n\t\treturn -22;\n\treturn sys_counter;\n}\n__attribute__((noinline)) int fake_other(int x)\n{\n\treturn x * 3;\n}\n'
let tmp = ''
let tree = ''
let vmlinux = ''
let stripped = ''
let buildId = ''

before(() => {
  execFileSync('make', ['-s', '-C', path.join(repo, 'native'), 'all', 'fixture'], { stdio: 'pipe' })
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-vmlinux-fake-'))
  tree = path.join(tmp, 'build/linux')
  for (const [file, text] of [['init/main.c', MAIN_C], ['kernel/sys.c', SYS_C]] as const) {
    mkdirSync(path.dirname(path.join(tree, file)), { recursive: true })
    writeFileSync(path.join(tree, file), text)
  }
  vmlinux = path.join(tree, 'vmlinux')
  execFileSync('gcc', ['-g', '-O2', '-nostdlib', '-static', '-no-pie', '-Wl,--build-id', '-Wl,-e,start_kernel',
    'init/main.c', 'kernel/sys.c', '-o', vmlinux], { cwd: tree })
  stripped = path.join(tmp, 'vmlinux.stripped')
  copyFileSync(vmlinux, stripped)
  execFileSync('objcopy', ['--strip-debug', stripped])
  buildId = loadDebugInfo(vmlinux).buildId
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

let trees = 0
/** FAKE roots: sys/ (with the running kernel's build-id), and a file system of `files`. */
function fake(runningId: string, files: Record<string, string> = {}): SystemSetup {
  const dir = path.join(tmp, `fake-${trees++}`)
  mkdirSync(path.join(dir, 'sys/kernel'), { recursive: true })
  mkdirSync(path.join(dir, 'proc'), { recursive: true })
  mkdirSync(path.join(dir, 'fs'), { recursive: true })
  writeFileSync(path.join(dir, 'sys/kernel/notes'), buildIdNote(runningId))
  for (const [file, from] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, 'fs', file)), { recursive: true })
    copyFileSync(from, path.join(dir, 'fs', file))
  }
  return { sys: path.join(dir, 'sys'), proc: path.join(dir, 'proc'), fsRoot: path.join(dir, 'fs'), release: R }
}

const NO_VMLINUX = `no vmlinux with debug info for kernel ${R}: install linux-image-${R}-dbg (Debian) or give its path: --module vmlinux=PATH`

test('hasDwarf: an ELF with .debug_info; not one stripped of it, not a missing or non-ELF file', () => {
  assert.equal(hasDwarf(vmlinux), true)
  assert.equal(hasDwarf(ko), true)
  assert.equal(hasDwarf(stripped), false)
  assert.equal(hasDwarf(path.join(tmp, 'missing')), false)
  assert.equal(hasDwarf(path.join(tree, 'kernel/sys.c')), false)
})

test('the vmlinux of a release: where debug packages and kernel builds put it, the first with DWARF', () => {
  assert.deepEqual(vmlinuxCandidates('6.1.0-57-amd64'), [
    '/usr/lib/debug/boot/vmlinux-6.1.0-57-amd64',
    '/usr/lib/debug/lib/modules/6.1.0-57-amd64/vmlinux',
    '/lib/modules/6.1.0-57-amd64/build/vmlinux',
    '/boot/vmlinux-6.1.0-57-amd64',
  ])
  const both = fake(buildId, { [`boot/vmlinux-${R}`]: stripped, [`lib/modules/${R}/build/vmlinux`]: vmlinux, [`usr/lib/debug/boot/vmlinux-${R}`]: stripped })
  assert.equal(vmlinuxObjectPath(both), path.join(both.fsRoot!, `lib/modules/${R}/build/vmlinux`))
  const debugPackage = fake(buildId, { [`usr/lib/debug/lib/modules/${R}/vmlinux`]: vmlinux, [`lib/modules/${R}/build/vmlinux`]: vmlinux })
  assert.equal(vmlinuxObjectPath(debugPackage), path.join(debugPackage.fsRoot!, `usr/lib/debug/lib/modules/${R}/vmlinux`))
  assert.throws(() => vmlinuxObjectPath(fake(buildId, { [`boot/vmlinux-${R}`]: stripped })),
    { code: 'ENOENT', message: `no vmlinux with debug info for kernel ${R}: install linux-image-${R}-dbg (Debian) or give its path (object)` })
})

test('a vmlinux\'s sources are relative to its kernel tree (the build directory of start_kernel\'s init/main.c)', () => {
  const raw = loadDebugInfo(vmlinux)
  assert.deepEqual(raw.files, ['', path.join(tree, 'init/main.c'), path.join(tree, 'kernel/sys.c')])
  assert.equal(kernelTree(raw), tree)
  const di = loadTargetDebugInfo('vmlinux', vmlinux, R)
  assert.deepEqual(di.files, ['', 'init/main.c', 'kernel/sys.c'])
  // A module's paths stay as they are.
  assert.ok(loadTargetDebugInfo('kpc_fixture', ko, R).files.slice(1).every((f) => path.isAbsolute(f)))
  // Reports name them kernel/sys.c whatever the root; sources are read under the root.
  for (const options of [{ root: '/usr/src/linux-source-6.1' }, { root: '/work/project', sourceRoot: 'build' }]) {
    assert.equal(reportPath('kernel/sys.c', options), 'kernel/sys.c')
  }
  // Without relativeToKernelTree, a kernel built elsewhere comes out absolute (outside the root).
  assert.equal(reportPath(path.join(tree, 'kernel/sys.c'), { root: '/usr/src/linux-source-6.1' }), path.join(tree, 'kernel/sys.c'))
})

test('planning a vmlinux: functions and sources globs against names and tree paths', () => {
  const di = loadTargetDebugInfo('vmlinux', vmlinux, R)
  const plan = (target: { functions?: string[]; sources?: string[] }, root = '/elsewhere') =>
    planProbes([{ target: { name: 'vmlinux', object: vmlinux, granularity: 'line', ...target }, debugInfo: di }], { root })
  const byName = plan({ functions: ['fake_getpriority'] })
  assert.deepEqual(byName.functions.map((f) => [f.name, byName.files[f.file], f.line]), [['fake_getpriority', 'kernel/sys.c', 2]])
  assert.ok(byName.probes.length > 1)
  for (const p of byName.probes) for (const [file, line] of p.lines) assert.ok(byName.files[file] === 'kernel/sys.c' && line >= 2 && line <= 9, `${file}:${line}`)
  assert.deepEqual(plan({ sources: ['kernel/sys.c'] }).functions.map((f) => f.name), ['fake_getpriority', 'fake_other'])
  assert.deepEqual(plan({ sources: ['kernel/**'] }).functions.map((f) => f.name), ['fake_getpriority', 'fake_other'])
  assert.deepEqual(plan({ sources: ['init/*.c'], functions: ['fake_o*'] }).functions.map((f) => f.name), ['start_kernel', 'fake_other'])
  assert.deepEqual(plan({ sources: ['/usr/src/linux/kernel/*.c'] }, '/usr/src/linux').functions.map((f) => f.name), ['fake_getpriority', 'fake_other'])
  assert.deepEqual(plan({ sources: ['sys.c'] }).functions, [])
})

test('run --module vmlinux: each failure before anything is planted is one line naming the fix, exit 1', async () => {
  const run = (system: SystemSetup, ...argv: string[]) => cli(['run', '--device', path.join(tmp, 'no-device'), '--out', path.join(tmp, 'never'), ...argv, '--', 'true'], { system })
  const fails = async (r: ReturnType<typeof run>, message: string) => assert.deepEqual(await r, { status: 1, stdout: '', stderr: `kprobecov: ${message}\n` })
  await fails(run(fake(buildId), '-m', 'vmlinux', '--functions', 'fake_*'), NO_VMLINUX)
  await fails(run(fake(buildId), '-m', `vmlinux=${stripped}`, '--functions', 'fake_*'),
    `${stripped} has no debug info: install linux-image-${R}-dbg (Debian) or give its path: --module vmlinux=PATH`)
  const text = path.join(tree, 'kernel/sys.c')
  await fails(run(fake(buildId), '-m', `vmlinux=${text}`, '--functions', 'fake_*'),
    `${text} is not a vmlinux (an x86-64 ELF kernel; a compressed vmlinuz or bzImage will not do): install linux-image-${R}-dbg (Debian) or give its path: --module vmlinux=PATH`)
  await fails(run(fake(buildId), '-m', `vmlinux=${ko}`, '--functions', 'fake_*'), `${ko} is the module kpc_fixture, not vmlinux: use --module kpc_fixture=${ko}, or the vmlinux of the kernel`)
  await fails(run(fake(buildId), '-m', `kpc_fixture=${vmlinux}`),
    `${vmlinux} is a vmlinux, not the module kpc_fixture: measure built-in code as vmlinux (with sources or functions globs), or give the .ko of kpc_fixture`)
  const other = 'ab'.repeat(20)
  await fails(run(fake(other), '-m', `vmlinux=${vmlinux}`, '--functions', 'fake_*'),
    `${vmlinux} is not the running kernel (build-id ${buildId.slice(0, 12)}, running ${other.slice(0, 12)}): for the vmlinux of kernel ${R}, install linux-image-${R}-dbg (Debian) or give its path: --module vmlinux=PATH`)
  await fails(run(fake(buildId), '-m', `vmlinux=${vmlinux}`, '--functions', 'sys_*', '--sources', 'fs/**'),
    `no function of ${vmlinux} matches source fs/**, function sys_*: source globs match paths in the kernel tree (kernel/sys.c, fs/ext4/**), function globs the names of its functions`)
  // Found where the debug package puts it, the right build: only the missing device is left.
  const installed = fake(buildId, { [`usr/lib/debug/boot/vmlinux-${R}`]: vmlinux })
  const r = await run(installed, '-m', 'vmlinux', '--sources', 'kernel/sys.c')
  assert.equal(r.status, 1)
  assert.match(r.stderr, /^kprobecov: \S+no-device is missing: load the module: /)
})

test('doctor --module vmlinux: the vmlinux found, its debug info, the running kernel\'s, the probes of the globs', async () => {
  const installed = fake(buildId, { [`usr/lib/debug/lib/modules/${R}/vmlinux`]: vmlinux })
  const r = await cli(['doctor', '--device', path.join(tmp, 'no-device'), '-m', 'vmlinux', '--functions', 'fake_*', '-g', 'line'], { system: installed })
  const found = path.join(installed.fsRoot!, `usr/lib/debug/lib/modules/${R}/vmlinux`)
  assert.match(r.stdout, new RegExp(`^✓ ${found}: debug info of 3 functions \\(build-id ${buildId.slice(0, 12)}\\)\\n` +
    `✓ vmlinux: the running kernel's \\(same build-id\\)\\n✓ vmlinux: \\d+ probes in 2 functions at granularity line\\n`, 'm'))
  const none = await cli(['doctor', '--device', path.join(tmp, 'no-device'), '-m', 'vmlinux', '--sources', 'kernel/**'], { system: fake(buildId) })
  assert.match(none.stdout, new RegExp(`^✗ ${NO_VMLINUX.replace(/[()]/g, '\\$&')}$`, 'm'))
})

test('the front ends\' options: sources and functions for vmlinux only, arrays of globs; vmlinux needs one', () => {
  const where = 'kprobecov({ ... })'
  const resolve = (m: unknown) => resolveKprobecovOptions({ modules: [m] }, '/proj', where, {}).modules[0]
  const fails = (m: unknown, message: string) =>
    assert.throws(() => resolve(m), { code: 'EINVAL', message: `${where}: ${message}` })
  assert.deepEqual(resolve({ name: 'vmlinux', sources: ['fs/ext4/**'], functions: ['ext4_*'] }),
    { name: 'vmlinux', object: undefined, granularity: 'branch', loadedByTests: false, sources: ['fs/ext4/**'], functions: ['ext4_*'] })
  assert.deepEqual(resolve({ name: 'vmlinux', object: 'vmlinux', functions: ['a'] }),
    { name: 'vmlinux', object: '/proj/vmlinux', granularity: 'branch', loadedByTests: false, functions: ['a'] })
  assert.deepEqual(resolve({ name: 'kvstore' }), { name: 'kvstore', object: undefined, granularity: 'branch', loadedByTests: false })
  fails({ name: 'vmlinux' }, "modules[0] (vmlinux) needs sources or functions globs, e.g. sources: ['fs/ext4/**']: all of the kernel is too many probes")
  fails({ name: 'vmlinux', sources: [], functions: [] }, "modules[0] (vmlinux) needs sources or functions globs, e.g. sources: ['fs/ext4/**']: all of the kernel is too many probes")
  fails({ name: 'vmlinux', sources: 'fs/ext4/**' }, "modules[0].sources must be an array of globs (non-empty strings), e.g. sources: ['fs/ext4/**']")
  fails({ name: 'vmlinux', sources: ['fs/**', ''] }, "modules[0].sources must be an array of globs (non-empty strings), e.g. sources: ['fs/ext4/**']")
  fails({ name: 'vmlinux', functions: [3] }, "modules[0].functions must be an array of globs (non-empty strings), e.g. functions: ['__x64_sys_*']")
  fails({ name: 'kvstore', sources: ['fs/**'] }, "modules[0].sources chooses built-in code: it goes with name: 'vmlinux' (a module is measured whole)")
  fails({ name: 'kvstore', functions: ['kv_*'] }, "modules[0].functions chooses built-in code: it goes with name: 'vmlinux' (a module is measured whole)")
})

test('the front ends\' setup errors name the option (object), not the CLI\'s --module', () => {
  const vml = { name: 'vmlinux', functions: ['fake_*'], granularity: 'branch', loadedByTests: false } as const
  assert.throws(() => prepareModules([vml], { system: fake(buildId) }),
    { code: 'ENOENT', message: `no vmlinux with debug info for kernel ${R}: install linux-image-${R}-dbg (Debian) or give its path (object)` })
  assert.throws(() => prepareModules([{ name: 'kpc_other', object: ko, granularity: 'branch', loadedByTests: false }], { system: fake(buildId) }),
    { code: 'EINVAL', message: `${ko} is the module kpc_fixture, not kpc_other: use name: 'kpc_fixture', or the .ko of kpc_other` })
  assert.throws(() => prepareModules([{ ...vml, object: ko }], { system: fake(buildId) }),
    { code: 'EINVAL', message: `${ko} is the module kpc_fixture, not vmlinux: use name: 'kpc_fixture', or the vmlinux of the kernel` })
  const [m] = prepareModules([vml], { system: fake(buildId, { [`boot/vmlinux-${R}`]: vmlinux }) })
  assert.deepEqual([m!.loaded, m!.functions, m!.debugInfo.files], ['match', ['fake_*'], ['', 'init/main.c', 'kernel/sys.c']])
  assert.ok(readFileSync(m!.object).equals(readFileSync(vmlinux)))
})
