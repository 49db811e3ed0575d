// The one-line errors of the device layer, on the host (no kprobecov here):
// opening a missing device, and the system checks behind the messages, run
// against FAKE /sys, /proc and /lib/modules trees written by this file.
// What the real kernel does is tested in the guest (test/guest/).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { DebugInfo } from '../src/debuginfo/types.ts'
import { KprobecovError } from '../src/errors.ts'
import { Collector, deviceOpenError } from '../src/device/collector.ts'
import {
  checkModuleMatches,
  kprobesState,
  loadedBuildId,
  moduleLoaded,
  moduleObjectPath,
  parseBuildIdNote,
} from '../src/device/system.ts'

let tmp = ''
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kpc-device-test-'))
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

/** Writes a FAKE tree: { 'relative/path': content }; returns its root. */
function fakeTree(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = join(tmp, name)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  mkdirSync(dir, { recursive: true })
  return dir
}

const errorWith = (code: string, text?: string) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError, `not a KprobecovError: ${String(e)}`)
  assert.equal(e.code, code, e.message)
  assert.ok(!e.message.includes('\n'), `message is one line: ${e.message}`)
  if (text !== undefined) assert.ok(e.message.includes(text), `"${e.message}" should include "${text}"`)
  return true
}

/** An ELF note block: a .note.Linux-like note, then NT_GNU_BUILD_ID "GNU" with `id`. */
function notes(id: string): Uint8Array {
  const note = (name: string, type: number, desc: Uint8Array): Buffer => {
    const n = Buffer.from(`${name}\0`, 'latin1')
    const pad = (b: Uint8Array) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)])
    const head = Buffer.alloc(12)
    head.writeUInt32LE(n.length, 0)
    head.writeUInt32LE(desc.length, 4)
    head.writeUInt32LE(type, 8)
    return Buffer.concat([head, pad(n), pad(desc)])
  }
  return Buffer.concat([note('Linux', 0x100, Buffer.from('6.1.0\0')), note('GNU', 3, Buffer.from(id, 'hex'))])
}

const KALLSYMS = 'ffffffff811a4390 T register_kprobe\nffffffff811a4400 t other\n'
const ID = '68a47290e31af3db28233d6124159' + '2b741046b32'

test('a missing device names the fix: load the module', () => {
  const sys = fakeTree('sys-no-module', { 'kernel/notes': notes(ID) })
  const proc = fakeTree('proc-kprobes', { kallsyms: KALLSYMS })
  assert.throws(
    () => Collector.open(join(tmp, 'no-such-device'), { sys, proc }),
    (e: unknown) => {
      errorWith('ENODEV')(e)
      assert.equal((e as Error).message, `${join(tmp, 'no-such-device')} is missing: load the module: sudo npx kprobecov module load`)
      assert.equal((e as KprobecovError).errno, 2)
      return true
    },
  )
  assert.equal(
    deviceOpenError(-2, '/dev/kprobecov', { sys, proc }).message,
    '/dev/kprobecov is missing: load the module: sudo npx kprobecov module load',
  )
})

test('a missing device with the module loaded (FAKE sysfs): create the node', () => {
  const sys = fakeTree('sys-module-loaded', { 'module/kprobecov/initstate': 'live\n' })
  assert.throws(() => Collector.open(join(tmp, 'no-such-device'), { sys }), errorWith('ENODEV', 'although kprobecov is loaded'))
})

test('a missing device on a kernel without kprobes (FAKE /proc/kallsyms): ENOKPROBES', () => {
  const sys = fakeTree('sys-bare', { 'kernel/notes': notes(ID) })
  const proc = fakeTree('proc-no-kprobes', { kallsyms: 'ffffffff81000000 T _stext\nffffffff81000100 T other\n' })
  assert.throws(() => Collector.open(join(tmp, 'no-such-device'), { sys, proc }), errorWith('ENOKPROBES', 'CONFIG_KPROBES'))
})

test('permission denied names root or dev_mode=0660 with a udev group', () => {
  // Root opens anything, so this checks the mapping of the errno itself.
  for (const errno of [13, 1]) {
    const e = deviceOpenError(-errno, '/dev/kprobecov')
    errorWith('EACCES', 'dev_mode=0660')(e)
    assert.ok(e.message.startsWith('/dev/kprobecov: permission denied: run as root'))
  }
})

test('a device that is not kprobecov (/dev/null) is refused and closed', () => {
  assert.throws(() => Collector.open('/dev/null'), errorWith('ENOTTY', 'KPROBECOV_GET_VERSION'))
})

test('kprobesState on FAKE trees: enabled, disabled, absent, unknown', () => {
  assert.equal(kprobesState({ sys: fakeTree('ks-on', { 'kernel/debug/kprobes/enabled': '1\n' }) }), 'enabled')
  assert.equal(kprobesState({ sys: fakeTree('ks-off', { 'kernel/debug/kprobes/enabled': '0\n' }) }), 'disabled')
  assert.equal(kprobesState({ sys: fakeTree('ks-pmu', { 'bus/event_source/devices/kprobe/type': '7\n' }) }), 'enabled')
  const empty = fakeTree('ks-empty', {})
  assert.equal(kprobesState({ sys: empty, proc: fakeTree('ks-kallsyms', { kallsyms: KALLSYMS }) }), 'enabled')
  assert.equal(kprobesState({ sys: empty, proc: fakeTree('ks-none', { kallsyms: '0 T _stext\n' }) }), 'absent')
  assert.equal(kprobesState({ sys: empty, proc: empty }), 'unknown')
})

test('parseBuildIdNote: the GNU build-id among several notes', () => {
  assert.equal(parseBuildIdNote(notes(ID)), ID)
  // As read from /sys/module/kprobecov/notes/.note.gnu.build-id in the guest.
  const sysfs = Buffer.from('040000001400000003000000474e550068a47290e31af3db28233d612415' + '92b741046b32', 'hex')
  assert.equal(parseBuildIdNote(sysfs), ID)
  assert.equal(parseBuildIdNote(new Uint8Array(0)), undefined)
  assert.equal(parseBuildIdNote(sysfs.subarray(0, 20)), undefined)
})

function info(over: Partial<DebugInfo>): DebugInfo {
  return {
    path: '/src/kvstore/kvstore.ko',
    moduleName: 'kvstore',
    buildId: ID,
    srcversion: 'ABCDEF0123456789ABCDEF0',
    vermagic: '6.1.0 SMP mod_unload',
    hasBranches: false,
    files: [''],
    sections: [],
    functions: [],
    lines: [],
    branches: [],
    ...over,
  }
}

test('checkModuleMatches (FAKE sysfs): match, other build-id, not loaded, srcversion, vmlinux', () => {
  const other = 'ff' + ID.slice(2)
  const sys = fakeTree('sys-modules', {
    'module/kvstore/initstate': 'live\n',
    'module/kvstore/notes/.note.gnu.build-id': notes(ID),
    'module/kv_old/initstate': 'live\n',
    'module/kv_old/notes/.note.gnu.build-id': notes(other),
    'module/kv_nonote/initstate': 'live\n',
    'module/kv_nonote/srcversion': 'ABCDEF0123456789ABCDEF0\n',
    'module/builtin_thing/parameters/x': '1\n',
    'kernel/notes': notes(ID),
  })
  assert.equal(moduleLoaded('kvstore', { sys }), true)
  assert.equal(moduleLoaded('builtin-thing', { sys }), false)
  assert.equal(loadedBuildId('kvstore', { sys }), ID)
  assert.equal(checkModuleMatches(info({}), { sys }), 'match')
  assert.throws(
    () => checkModuleMatches(info({ moduleName: 'kv_old' }), { sys }),
    errorWith('EBUILDID', `is not the loaded kv_old (build-id ${ID.slice(0, 12)}, loaded ${other.slice(0, 12)})`),
  )
  assert.throws(() => checkModuleMatches(info({ moduleName: 'kv-absent' }), { sys }), errorWith('EMODULE_NOT_LOADED', 'module kv_absent is not loaded'))
  assert.equal(checkModuleMatches(info({ moduleName: 'kv_absent' }), { sys, allowNotLoaded: true }), 'not-loaded')
  assert.equal(checkModuleMatches(info({ moduleName: 'kv_nonote' }), { sys }), 'match')
  assert.throws(() => checkModuleMatches(info({ moduleName: 'kv_nonote', buildId: '', srcversion: '0000' }), { sys }), errorWith('EBUILDID', 'srcversion 0000'))
  assert.equal(checkModuleMatches(info({ moduleName: 'kv_nonote', buildId: '', srcversion: '' }), { sys }), 'unverified')
  assert.equal(checkModuleMatches(info({ moduleName: '', path: '/boot/vmlinux' }), { sys }), 'match')
  assert.throws(() => checkModuleMatches(info({ moduleName: '', buildId: other, path: '/boot/vmlinux' }), { sys }), errorWith('EBUILDID', 'not the running kernel'))
})

test('moduleObjectPath (FAKE /lib/modules): modules.dep, compressed and dashed names, built-in, missing', () => {
  const modulesDir = fakeTree('lib-modules', {
    '6.1.0-test/modules.dep': 'kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz\nkernel/net/9p/9pnet.ko.xz:\nextra/kv-store.ko:\n',
    '6.1.0-test/modules.builtin': 'kernel/fs/ext4/ext4.ko\n',
  })
  const o = { modulesDir, release: '6.1.0-test' }
  assert.equal(moduleObjectPath('9pnet', o), join(modulesDir, '6.1.0-test/kernel/net/9p/9pnet.ko.xz'))
  assert.equal(moduleObjectPath('kv_store', o), join(modulesDir, '6.1.0-test/extra/kv-store.ko'))
  assert.throws(() => moduleObjectPath('ext4', o), errorWith('EMODULE_BUILTIN', "'vmlinux'"))
  assert.throws(() => moduleObjectPath('nothing', o), errorWith('ENOENT', 'no module nothing is installed for kernel 6.1.0-test'))
  assert.throws(() => moduleObjectPath('nothing', { modulesDir, release: '9.9.9' }), errorWith('ENOENT', 'modules.dep is missing'))
})
