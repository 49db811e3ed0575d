// kprobecov doctor, and the one-line failures of run before anything is planted, on
// the host against FAKE /sys, /proc and /lib/modules trees written by this file and a
// device path that is missing (or not a device). The module checked is the fixture
// native/ builds with -g (and without: kpc_fixture.nodebug.ko). What the real kernel
// says is tested in the guest (test/guest/cli.test.ts).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SystemSetup } from '../src/cli/io.ts'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { locateNativeLibrary } from '../src/native/lib.ts'
import { buildIdNote, cli } from './cli-helpers.ts'

const repo = path.resolve(import.meta.dirname, '../../..')
const fixture = path.join(repo, 'build/native/fixture')
const ko = path.join(fixture, 'kpc_fixture.ko')
const nodebug = path.join(fixture, 'kpc_fixture.nodebug.ko')
const RELEASE = '6.1.0-fake'
let tmp = ''
let buildId = ''
let lib = ''

before(() => {
  execFileSync('make', ['-s', '-C', path.join(repo, 'native'), 'all', 'fixture'], { stdio: 'pipe' })
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-cli-system-'))
  buildId = loadDebugInfo(ko).buildId
  lib = locateNativeLibrary()
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

let trees = 0
/** FAKE roots: { 'sys/...': content, 'proc/...': content, 'modules/...': content }. */
function fake(files: Record<string, string | Uint8Array>): SystemSetup {
  const dir = path.join(tmp, `fake-${trees++}`)
  for (const sub of ['sys', 'proc', 'modules']) mkdirSync(path.join(dir, sub), { recursive: true })
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), content)
  }
  return { sys: path.join(dir, 'sys'), proc: path.join(dir, 'proc'), modulesDir: path.join(dir, 'modules'), release: RELEASE }
}

const KALLSYMS = 'ffffffff811a4390 T register_kprobe\nffffffff811a4400 t other\n'
/** A kernel with kprobes and modules, kprobecov loaded. */
const HEALTHY = {
  'sys/kernel/debug/kprobes/enabled': '1\n',
  'sys/module/kprobecov/initstate': 'live\n',
  'proc/modules': 'kprobecov 65536 0 - Live 0x0000000000000000 (OE)\n',
  'proc/kallsyms': KALLSYMS,
}

const missingDevice = () => path.join(tmp, 'no-such-device')

test('doctor: a kernel without kprobes and modules, nothing loaded: each problem with its fix, exit 1', async () => {
  const system = fake({ 'proc/kallsyms': 'ffffffff81000000 T _stext\n' })
  const dev = missingDevice()
  const r = await cli(['doctor', '--device', dev], { system })
  assert.equal(r.status, 1)
  assert.equal(r.stderr, '')
  assert.equal(r.stdout, [
    `✗ kernel ${RELEASE} has no kprobes (CONFIG_KPROBES is not set): use a kernel built with CONFIG_KPROBES=y, as distribution kernels are`,
    `✗ kernel ${RELEASE} cannot load modules (no ${system.proc}/modules: CONFIG_MODULES is not set): use a kernel with module support`,
    '✗ kprobecov.ko is not loaded: build and load it: sudo npx kprobecov module load',
    `✓ libkprobecov.so: ${lib}`,
    `✗ ${dev} is missing: it appears when kprobecov.ko is loaded (see above)`,
    '4 problems: fix the ✗ lines above',
    '',
  ].join('\n'))
})

test('doctor: kprobes switched off, module loading off, signed modules only', async () => {
  const off = await cli(['doctor', '--device', missingDevice()], {
    system: fake({ ...HEALTHY, 'sys/kernel/debug/kprobes/enabled': '0\n', 'proc/sys/kernel/modules_disabled': '1\n' }),
  })
  assert.equal(off.status, 1)
  assert.match(off.stdout, /^✗ kprobes are switched off \(probes would never fire\): echo 1 \| sudo tee \/sys\/kernel\/debug\/kprobes\/enabled$/m)
  assert.match(off.stdout, /^✗ module loading is switched off until the next boot \(kernel\.modules_disabled=1\): reboot, and load kprobecov\.ko before it is switched off$/m)
  const signed = await cli(['doctor', '--device', missingDevice()], {
    system: fake({ 'proc/modules': '', 'proc/kallsyms': KALLSYMS, 'sys/module/module/parameters/sig_enforce': 'Y\n' }),
  })
  assert.match(signed.stdout, /^✓ kprobes: available \(kernel 6\.1\.0-fake\)$/m)
  assert.match(signed.stdout, /^✗ the kernel loads only signed modules \(module\.sig_enforce=1\): sign kprobecov\.ko with your Machine Owner Key \(see the README.s "Secure Boot"\), or use a test machine without Secure Boot$/m)
  const lockdown = await cli(['doctor', '--device', missingDevice()], {
    system: fake({ 'proc/modules': '', 'proc/kallsyms': KALLSYMS, 'sys/kernel/security/lockdown': 'none [integrity] confidentiality\n' }),
  })
  assert.match(lockdown.stdout, /^✗ the kernel loads only signed modules \(lockdown=integrity\): /m)
})

test('doctor: kprobecov loaded but its device node missing, or a path that is not the device', async () => {
  const dev = missingDevice()
  const r = await cli(['doctor', '--device', dev], { system: fake(HEALTHY) })
  assert.equal(r.status, 1)
  assert.equal(r.stdout, [
    `✓ kprobes: available (kernel ${RELEASE})`,
    '✓ modules: the kernel loads modules',
    '✓ kprobecov.ko: loaded',
    `✓ libkprobecov.so: ${lib}`,
    `✗ ${dev} is missing although kprobecov is loaded: mount devtmpfs on /dev, or create the node (sudo mknod ${dev} c $(tr : ' ' </sys/class/misc/kprobecov/dev))`,
    '1 problem: fix the ✗ line above',
    '',
  ].join('\n'))
  const notDevice = path.join(tmp, 'not-a-device')
  writeFileSync(notDevice, '')
  const r2 = await cli(['doctor', '--device', notDevice], { system: fake(HEALTHY) })
  assert.match(r2.stdout, new RegExp(`^✗ ${notDevice} does not answer KPROBECOV_GET_VERSION \\(.*\\): is it kprobecov's device\\?$`, 'm'))
})

test('doctor --module: debug info, the loaded build, the probes it gets; and what is wrong with a .ko', async () => {
  const dev = missingDevice()
  const loaded = (id: string) => fake({
    ...HEALTHY,
    'sys/module/kpc_fixture/initstate': 'live\n',
    'sys/module/kpc_fixture/notes/.note.gnu.build-id': buildIdNote(id),
  })
  const good = await cli(['doctor', '--device', dev, '-m', `kpc_fixture=${ko}`, '-g', 'line'], { system: loaded(buildId) })
  const lines = good.stdout.split('\n')
  assert.equal(lines[5], `✓ ${ko}: debug info of 15 functions (build-id ${buildId.slice(0, 12)})`)
  assert.equal(lines[6], `✓ kpc_fixture: loaded, and the same build as ${ko}`)
  assert.match(lines[7]!, /^✓ kpc_fixture: \d+ probes in 12 functions at granularity line$/)

  const other = 'ab'.repeat(20)
  const stale = await cli(['doctor', '--device', dev, '-m', `kpc_fixture=${ko}`], { system: loaded(other) })
  assert.equal(stale.stdout.split('\n')[6],
    `✗ ${ko} is not the loaded kpc_fixture (build-id ${buildId.slice(0, 12)}, loaded ${other.slice(0, 12)}): ` +
    `reload it (sudo rmmod kpc_fixture && sudo insmod ${ko}) or point at the .ko it was loaded from`)
  const notLoaded = await cli(['doctor', '--device', dev, '-m', `kpc_fixture=${ko}`], { system: fake(HEALTHY) })
  assert.match(notLoaded.stdout, /^✓ kpc_fixture: not loaded: its probes are planted when it loads \(load it in the measured command to cover module_init\)$/m)

  const system = fake(HEALTHY)
  const bad = await cli(['doctor', '--device', dev, '-m', `kpc_fixture=${nodebug}`, '-m', `kpc_target=${ko}`, '-m', 'kpc_gone'], { system })
  assert.equal(bad.status, 1)
  assert.deepEqual(bad.stdout.split('\n').slice(5), [
    `✗ ${nodebug} has no debug info: rebuild it with -g (CONFIG_DEBUG_INFO=y, or ccflags-y += -g for an out-of-tree module)`,
    `✗ ${ko} is the module kpc_fixture, not kpc_target: use --module kpc_fixture=${ko}, or the .ko of kpc_target`,
    `✗ no module tree for kernel ${RELEASE} (${system.modulesDir}/${RELEASE}/modules.dep is missing) to find kpc_gone in: give its .ko: --module kpc_gone=PATH.ko`,
    '4 problems: fix the ✗ lines above',
    '',
  ])
})

test('run: the failures a user can cause before anything is planted, one line each, exit 1, no output written', async () => {
  const out = path.join(tmp, 'run-out')
  const run = (system: SystemSetup, ...argv: string[]) => cli(['run', '--out', out, '--device', missingDevice(), ...argv], { system })
  const expect = async (r: Promise<{ status: number; stdout: string; stderr: string }>, stderr: string) => {
    assert.deepEqual(await r, { status: 1, stdout: '', stderr: `kprobecov: ${stderr}\n` })
    assert.equal(existsSync(out), false)
  }
  const loadedOther = fake({
    ...HEALTHY,
    'sys/module/kpc_fixture/initstate': 'live\n',
    'sys/module/kpc_fixture/notes/.note.gnu.build-id': buildIdNote('cd'.repeat(20)),
  })
  await expect(run(loadedOther, '-m', `kpc_fixture=${ko}`, '--', 'true'),
    `${ko} is not the loaded kpc_fixture (build-id ${buildId.slice(0, 12)}, loaded cdcdcdcdcdcd): reload it (sudo rmmod kpc_fixture && sudo insmod ${ko}) or point at the .ko it was loaded from`)
  await expect(run(fake(HEALTHY), '-m', `kpc_fixture=${nodebug}`, '--', 'true'),
    `${nodebug} has no debug info: rebuild it with -g (CONFIG_DEBUG_INFO=y, or ccflags-y += -g for an out-of-tree module)`)
  await expect(run(fake(HEALTHY), '-m', 'kpc_fixture=missing/kpc_fixture.ko', '--', 'true'),
    `${path.resolve('missing/kpc_fixture.ko')} does not exist (the object to read debug info from): check the path, or build it first`)
  await expect(run(fake(HEALTHY), '-m', `kpc_fixture=${ko}`, '--', 'kpc-no-such-command'),
    'kpc-no-such-command: command not found: check its name, or your PATH')
  const modules = fake({ ...HEALTHY, [`modules/${RELEASE}/modules.dep`]: 'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz\n' })
  await expect(run(modules, '-m', 'kpc_gone', '--', 'true'),
    `no module kpc_gone is installed for kernel ${RELEASE}: give its .ko: --module kpc_gone=PATH.ko`)
  // kprobecov not loaded: the device is missing, and the fix is to load it.
  await expect(run(fake({ 'proc/modules': '', 'proc/kallsyms': KALLSYMS }), '-m', `kpc_fixture=${ko}`, '--', 'true'),
    `${missingDevice()} is missing: load the module: sudo npx kprobecov module load`)
  // A kernel without kprobes.
  await expect(run(fake({ 'proc/kallsyms': 'ffffffff81000000 T _stext\n' }), '-m', `kpc_fixture=${ko}`, '--', 'true'),
    'this kernel has no kprobes (register_kprobe is not in /proc/kallsyms: CONFIG_KPROBES is not set): kprobecov needs a kernel built with CONFIG_KPROBES=y')
  // The queries measuring now fail the same way.
  const status = await cli(['status', '--device', missingDevice(), '-m', `kpc_fixture=${nodebug}`], { system: fake(HEALTHY) })
  assert.equal(status.status, 1)
  assert.match(status.stderr, /has no debug info: rebuild it with -g/)
})
