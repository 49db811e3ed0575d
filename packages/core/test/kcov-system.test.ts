// The KCOV backend's view of the system, on the host against FAKE /sys and /proc trees
// written by this file (the host has no KCOV): the KASLR offset KCOV subtracts, where a
// module's sections are, the one-line errors, libuv's pool size, and the backend option.
// What the real kernel says is tested in the debug kernel's guest (test/kcov/).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KprobecovError } from '../src/errors.ts'
import { kallsymsAddress, kaslrOffset, kcovOpenError, moduleLoadId, moduleSectionBases } from '../src/kcov/system.ts'
import { KcovTracer, uvThreadPoolSize } from '../src/kcov/tracer.ts'
import { chooseBackend, resolveKprobecovOptions } from '../src/testrun/options.ts'

let tmp = ''
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-kcov-system-'))
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

let trees = 0
/** FAKE roots: { 'sys/...': content, 'proc/...': content }. */
function fake(files: Record<string, string>): { sys: string; proc: string } {
  const dir = path.join(tmp, `fake-${trees++}`)
  for (const sub of ['sys', 'proc']) mkdirSync(path.join(dir, sub), { recursive: true })
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), content)
  }
  return { sys: path.join(dir, 'sys'), proc: path.join(dir, 'proc') }
}

const kallsyms = (text: string) => `0000000000000000 A fixed_percpu_data\n${text} T _text\n${text} T startup_64\nffffffffc0000000 t other [mod]\n`

test('KASLR offset: _text now minus where the kernel was linked to put it', () => {
  const paths = fake({ 'proc/kallsyms': kallsyms('ffffffff9a000000') })
  const config = 'CONFIG_RANDOMIZE_BASE=y\nCONFIG_PHYSICAL_START=0x1000000\nCONFIG_PHYSICAL_ALIGN=0x200000\n'
  assert.equal(kaslrOffset({ ...paths, config }), 0xffffffff9a000000n - 0xffffffff81000000n)
  // x86-64's defaults without a config.
  assert.equal(kaslrOffset({ ...paths, config: null }), 0x19000000n)
  // Another CONFIG_PHYSICAL_START, aligned up.
  assert.equal(kaslrOffset({ ...paths, config: 'CONFIG_RANDOMIZE_BASE=y\nCONFIG_PHYSICAL_START=0x1100000\nCONFIG_PHYSICAL_ALIGN=0x200000\n' }), 0x18e00000n)
  // A kernel whose config has no KASLR: 0, without reading kallsyms.
  assert.equal(kaslrOffset({ ...fake({}), config: '# CONFIG_RANDOMIZE_BASE is not set\n' }), 0n)
  // nokaslr: _text where it was linked.
  assert.equal(kaslrOffset({ ...fake({ 'proc/kallsyms': kallsyms('ffffffff81000000') }), config: null }), 0n)
})

test('KASLR offset: hidden kallsyms addresses say to run as root', () => {
  assert.throws(() => kaslrOffset({ ...fake({ 'proc/kallsyms': kallsyms('0000000000000000') }), config: null }),
    (e: unknown) => e instanceof KprobecovError && e.code === 'EACCES' && /run as root, or boot with nokaslr$/.test(e.message))
  assert.throws(() => kaslrOffset({ ...fake({}), config: null }), /_text in .*kallsyms is hidden/)
})

test('kallsyms is read in chunks until the symbol', () => {
  const many = Array.from({ length: 20000 }, (_, i) => `ffffffff8100${(i + 0x1000).toString(16).padStart(4, '0')} t f${i}`).join('\n')
  const paths = fake({ 'proc/kallsyms': `${many}\nffffffff81abcdef T wanted\n` })
  assert.equal(kallsymsAddress('wanted', paths), 0xffffffff81abcdefn)
  assert.equal(kallsymsAddress('missing', paths), undefined)
})

test('module sections: the addresses sysfs gives, for the sections it lists; undefined when not loaded', () => {
  const paths = fake({
    'sys/module/my_mod/initstate': 'live\n',
    'sys/module/my_mod/sections/.text': '0xffffffffc0a01000\n',
    'sys/module/my_mod/sections/.init.text': '0xffffffffc0a05000\n',
  })
  assert.deepEqual(moduleSectionBases('my-mod', ['.text', '.init.text', '.text.unlikely'], paths),
    new Map([['.text', 0xffffffffc0a01000n], ['.init.text', 0xffffffffc0a05000n]]))
  assert.equal(moduleSectionBases('other', ['.text'], paths), undefined)
  const hidden = fake({ 'sys/module/m/initstate': 'live\n', 'sys/module/m/sections/.text': '0x0000000000000000\n' })
  assert.throws(() => moduleSectionBases('m', ['.text'], hidden), (e: unknown) => e instanceof KprobecovError && e.code === 'EACCES' && /run as root$/.test(e.message))
})

test('a load of a module is told by the inode sysfs gives its initstate: another load, another inode', () => {
  const paths = fake({ 'sys/module/my_mod/initstate': 'live\n' })
  const first = moduleLoadId('my-mod', paths)
  assert.equal(first, statSync(path.join(paths.sys, 'module/my_mod/initstate'), { bigint: true }).ino)
  assert.equal(moduleLoadId('my_mod', paths), first)
  // Unloaded (the old entry is kept elsewhere, so that its inodes stay taken), then loaded again.
  renameSync(path.join(paths.sys, 'module/my_mod'), path.join(paths.sys, 'old_my_mod'))
  assert.equal(moduleLoadId('my_mod', paths), undefined)
  mkdirSync(path.join(paths.sys, 'module/my_mod'))
  writeFileSync(path.join(paths.sys, 'module/my_mod/initstate'), 'live\n')
  assert.notEqual(moduleLoadId('my_mod', paths), first)
})

test('KCOV missing or forbidden: one line naming the fix', () => {
  const mounted = fake({ 'proc/mounts': 'debugfs /sys/kernel/debug debugfs rw 0 0\n' })
  const e1 = kcovOpenError(-2, '/sys/kernel/debug/kcov', { ...mounted, sys: '/sys' })
  assert.equal(e1.code, 'ENOKCOV_KERNEL')
  assert.equal(e1.message, "/sys/kernel/debug/kcov is missing: this kernel has no KCOV (CONFIG_KCOV is not set): use backend 'kprobe' (kprobecov.ko), or a kernel built with CONFIG_KCOV=y")
  const e2 = kcovOpenError(-2, '/sys/kernel/debug/kcov', { ...fake({ 'proc/mounts': 'proc /proc proc rw 0 0\n' }), sys: '/sys' })
  assert.match(e2.message, /mount debugfs \(sudo mount -t debugfs none \/sys\/kernel\/debug\), or use backend 'kprobe'$/)
  const e3 = kcovOpenError(-13, '/sys/kernel/debug/kcov')
  assert.equal(e3.code, 'EACCES')
  assert.match(e3.message, /KCOV is for root \(debugfs\): run as root$/)
  assert.throws(() => KcovTracer.open('pc', path.join(tmp, 'no-kcov')), (e: unknown) => e instanceof KprobecovError && e.code === 'ENOKCOV_KERNEL')
})

test("libuv's pool size as libuv reads UV_THREADPOOL_SIZE", () => {
  assert.equal(uvThreadPoolSize({}), 4)
  assert.equal(uvThreadPoolSize({ UV_THREADPOOL_SIZE: '8' }), 8)
  assert.equal(uvThreadPoolSize({ UV_THREADPOOL_SIZE: '0' }), 1)
  assert.equal(uvThreadPoolSize({ UV_THREADPOOL_SIZE: '5000' }), 1024)
})

const modules = [{ name: 'kvstore', object: './kvstore.ko' }]

test('backend: the option, else KPROBECOV_BACKEND, else auto; wrong values name the choices', () => {
  assert.equal(resolveKprobecovOptions({ modules }, '/r', 'here', {}).backend, 'auto')
  assert.equal(resolveKprobecovOptions({ modules }, '/r', 'here', { KPROBECOV_BACKEND: 'kcov' }).backend, 'kcov')
  assert.equal(resolveKprobecovOptions({ modules, backend: 'kprobe' }, '/r', 'here', { KPROBECOV_BACKEND: 'kcov' }).backend, 'kprobe')
  assert.throws(() => resolveKprobecovOptions({ modules, backend: 'ftrace' }, '/r', 'here', {}),
    /^KprobecovError: here: backend must be 'kprobe', 'kcov' or 'auto', not "ftrace"$/)
  assert.throws(() => resolveKprobecovOptions({ modules }, '/r', 'here', { KPROBECOV_BACKEND: 'kcovv' }),
    /here: KPROBECOV_BACKEND must be 'kprobe', 'kcov' or 'auto', not "kcovv"$/)
  const o = resolveKprobecovOptions({ modules }, '/r', 'here', {})
  assert.deepEqual(o.kcov, { buffer: 1 << 21, threadPool: true, children: true, path: '/sys/kernel/debug/kcov' })
  assert.deepEqual(resolveKprobecovOptions({ modules, kcov: { buffer: 4096, threadPool: false, children: false } }, '/r', 'here', {}).kcov,
    { buffer: 4096, threadPool: false, children: false, path: '/sys/kernel/debug/kcov' })
  assert.throws(() => resolveKprobecovOptions({ modules, kcov: { buffer: 10 } }, '/r', 'here', {}), /kcov.buffer must be a whole number of records from 1024 to 2\^28, not 10$/)
  assert.throws(() => resolveKprobecovOptions({ modules, kcov: { threadPool: 'yes' } }, '/r', 'here', {}), /kcov.threadPool must be true or false$/)
})

test("auto: kprobecov's device when it exists, else KCOV when it exists, else kprobe (whose error names the fix)", () => {
  const dev = path.join(tmp, 'kprobecov-dev')
  const kcov = path.join(tmp, 'kcov-file')
  writeFileSync(dev, '')
  writeFileSync(kcov, '')
  const none = path.join(tmp, 'none')
  assert.equal(chooseBackend('auto', dev, kcov), 'kprobe')
  assert.equal(chooseBackend('auto', none, kcov), 'kcov')
  assert.equal(chooseBackend('auto', none, none), 'kprobe')
  assert.equal(chooseBackend('kcov', dev, none), 'kcov')
  assert.equal(chooseBackend('kprobe', none, kcov), 'kprobe')
})

test("the pool barrier: n jobs of libuv's pool meet at once when the pool has n threads, else after the timeout", async () => {
  // /dev/null opens, and refuses KCOV_INIT_TRACE (ENOTTY) once each job is past the barrier.
  const tracer = KcovTracer.open('pc', '/dev/null')
  try {
    const n = uvThreadPoolSize()
    let t0 = performance.now()
    let r = await tracer.enablePool(1024, n, 5000)
    assert.ok(performance.now() - t0 < 2500, `${Math.round(performance.now() - t0)} ms for ${n} jobs`)
    assert.deepEqual(r.errors.map((e) => e.code), Array(n).fill('ENOTTY'))
    t0 = performance.now()
    r = await tracer.enablePool(1024, n + 1, 400)
    assert.ok(performance.now() - t0 >= 390, 'one job more than threads waits for the timeout')
    assert.equal(r.errors.length, n + 1)
  } finally {
    tracer.close()
  }
})
