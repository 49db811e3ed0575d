// kprobecov vm without a guest: its usage errors (exact lines, status 2), the options it
// parses, which kernel a --kernel SPEC names (against a FAKE kernel source standing in for
// apt's lists), the kernel-report scan, the console's phase marks and the initramfs archive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCommandLine, vmOptions, type Parsed } from '../src/cli/args.ts'
import { KprobecovError } from '../src/errors.ts'
import { chooseAccel, ConsoleFilter, PHASE_MARK } from '../src/vm/guest.ts'
import { imageRelease } from '../src/vm/image.ts'
import { cpio } from '../src/vm/initramfs.ts'
import { parseKernelSpec, resolveRelease, type KernelSource } from '../src/vm/kernel.ts'
import { Deadline } from '../src/vm/phases.ts'
import { kernelEntry } from '../src/vm/run.ts'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { firstReport, oomKilled } from '../src/vm/reports.ts'
import { cli } from './cli-helpers.ts'

const see = ' (see kprobecov vm --help)'
const USAGE: Array<[string[], string]> = [
  [['vm', 'true'], `kprobecov vm: unexpected argument 'true': a command to run goes after --${see}`],
  [['vm', '--mem', '128', '--', 'true'], `kprobecov vm: --mem 128 is too little memory for the guest: give at least 256 (MiB; default 2048)${see}`],
  [['vm', '--mem', '2G', '--', 'true'], `kprobecov vm: --mem must be a whole number from 256 to 1048576, not '2G'${see}`],
  [['vm', '--cpus', '0', '--', 'true'], `kprobecov vm: --cpus must be a whole number from 1 to 64, not '0'${see}`],
  [['vm', '--timeout', '1.5', '--', 'true'], `kprobecov vm: --timeout must be a whole number 1 or more, not '1.5'${see}`],
  [['vm', '--load', 'drv.o', '--', 'true'], `kprobecov vm: --load wants 'FILE.ko [PARAM=VALUE...]', not 'drv.o'${see}`],
  [['vm', '--load', 'drv.ko debug', '--', 'true'], `kprobecov vm: --load drv.ko: a parameter is NAME=VALUE, not 'debug'${see}`],
  [['vm', '--kernel', '', '--', 'true'], `kprobecov vm: --kernel needs a series (6.12), a Debian release or the path of a kernel image${see}`],
  [['vm', '--rw', '', '--', 'true'], `kprobecov vm: --rw needs a directory${see}`],
  [['vm', '--out', '', '--', 'true'], `kprobecov vm: --out needs a directory${see}`],
  [['vm', '--kernel', './bzImage', '--modules', '', '--', 'true'], `kprobecov vm: --modules needs a directory${see}`],
  [['vm', '--modules', 'mods', '--', 'true'], `kprobecov vm: --modules goes with --kernel IMAGE (the path of a kernel image): a Debian kernel brings its own modules${see}`],
  [['vm', '--no-kprobecov=yes', '--', 'true'], `kprobecov vm: --no-kprobecov takes no value${see}`],
  [['vm', '--frob', '--', 'true'], `kprobecov vm: unknown option '--frob'${see}`],
]
for (const [argv, message] of USAGE) {
  test(`usage error: kprobecov ${argv.join(' ')}`, async () => {
    assert.deepEqual(await cli(argv), { status: 2, stdout: '', stderr: `${message}\n` })
  })
}

test('no command and no terminal: one line naming the fix', async () => {
  assert.deepEqual(await cli(['vm']), { status: 1, stdout: '', stderr: 'kprobecov: no command after -- and stdin is no terminal for a shell: give the command, e.g. kprobecov vm -- npm test\n' })
})

const parsed = (argv: string[]): Parsed => {
  const r = parseCommandLine(['vm', ...argv])
  assert.equal(r.kind, 'command')
  return (r as { parsed: Parsed }).parsed
}

test('parsed options: defaults, paths resolved in the working directory, --load parameters, the command', () => {
  assert.deepEqual(vmOptions(parsed(['--', 'npm', 'test']), '/p'), {
    kernel: undefined, modules: undefined, kprobecov: true, builds: [], loads: [], rw: [], out: undefined, mem: 2048, cpus: 2, timeout: 3600, argv: ['npm', 'test'],
  })
  const o = vmOptions(parsed(['-k', '6.12', '--build', 'drv', '--build', '/abs', '--load', 'x/a.ko  debug=1 name=b', '--rw', '../out', '--mem', '512', '--cpus', '1', '--timeout', '90']), '/p/q')
  assert.deepEqual(o, {
    kernel: '6.12', modules: undefined, kprobecov: true, builds: ['/p/q/drv', '/abs'], loads: [{ ko: '/p/q/x/a.ko', params: ['debug=1', 'name=b'] }], rw: ['/p/out'],
    out: undefined, mem: 512, cpus: 1, timeout: 90, argv: undefined,
  })
  const own = vmOptions(parsed(['--kernel', 'k/bzImage', '--modules', 'k/mods', '--no-kprobecov', '--out', 'logs', '--', 'true']), '/p')
  assert.deepEqual([own.kernel, own.modules, own.kprobecov, own.out], ['k/bzImage', '/p/k/mods', false, '/p/logs'])
})

/** A FAKE of apt's lists: bookworm with backports. */
const FAKE_SOURCE: KernelSource = {
  name: "apt's lists",
  moreHint: 'add a source',
  seriesRelease: (s) => ({ '6.1': '6.1.0-57-amd64', '6.12': '6.12.118+deb12-amd64' } as Record<string, string>)[s],
  defaultRelease: () => '6.1.0-57-amd64',
  hasRelease: (r) => r === '6.1.0-57-amd64' || r === '6.12.118+deb12-amd64',
  series: () => ['6.1', '6.12'],
}
const coded = (code: string, message: string) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError, String(e))
  assert.equal(e.code, code)
  assert.equal(e.message, message)
  return true
}

test('--kernel: a series, a release, or an image path', () => {
  const none = () => false
  assert.deepEqual(parseKernelSpec('6.12', none), { kind: 'series', series: '6.12' })
  assert.deepEqual(parseKernelSpec('6.12.118+deb12-amd64', none), { kind: 'release', release: '6.12.118+deb12-amd64' })
  assert.deepEqual(parseKernelSpec('6.1.0-57-amd64', none), { kind: 'release', release: '6.1.0-57-amd64' })
  assert.deepEqual(parseKernelSpec('arch/x86/boot/bzImage', none), { kind: 'image', path: 'arch/x86/boot/bzImage' })
  assert.deepEqual(parseKernelSpec('bzImage', (p) => p === 'bzImage'), { kind: 'image', path: 'bzImage' })
  assert.throws(() => parseKernelSpec('latest', none), coded('ENOKERNEL', "'latest' is no kernel: give a series (--kernel 6.12), a Debian release (--kernel 6.12.118+deb12-amd64) or the path of a kernel image"))
})

test('a series resolves to its newest release; no --kernel: the host\'s release if listed, else the default kernel; unknown ones list what there is', () => {
  assert.equal(resolveRelease({ kind: 'series', series: '6.12' }, FAKE_SOURCE, '6.18.4-fc'), '6.12.118+deb12-amd64')
  assert.equal(resolveRelease({ kind: 'release', release: '6.1.0-57-amd64' }, FAKE_SOURCE, '6.18.4-fc'), '6.1.0-57-amd64')
  assert.equal(resolveRelease(undefined, FAKE_SOURCE, '6.12.118+deb12-amd64'), '6.12.118+deb12-amd64')
  assert.equal(resolveRelease(undefined, FAKE_SOURCE, '6.18.4-fc'), '6.1.0-57-amd64')
  assert.throws(() => resolveRelease({ kind: 'series', series: '6.16' }, FAKE_SOURCE, 'x'),
    coded('ENOKERNEL', "no Debian kernel 6.16: apt's lists have 6.1, 6.12; add a source"))
  assert.throws(() => resolveRelease({ kind: 'release', release: '6.1.0-1-amd64' }, FAKE_SOURCE, 'x'),
    coded('ENOKERNEL', "no Debian kernel release 6.1.0-1-amd64: apt's lists have 6.1, 6.12 (give a series, e.g. --kernel 6.12); add a source"))
})

/** The header of a bzImage of `release` (a FAKE: no kernel in it). */
function bzImage(release: string): Buffer {
  const bz = Buffer.alloc(0x400)
  bz.write('HdrS', 0x202, 'latin1')
  bz.writeUInt16LE(0x100, 0x20e)
  bz.write(`${release} (debian-kernel@lists.debian.org) #1 SMP\0`, 0x300, 'latin1')
  return bz
}

test('the release a bzImage names in its header', () => {
  const bz = bzImage('6.12.118+deb12-amd64')
  const file = `${process.env.TMPDIR ?? '/tmp'}/kpc-vm-bz.${process.pid}`
  return import('node:fs').then(({ writeFileSync, rmSync }) => {
    writeFileSync(file, bz)
    try {
      assert.equal(imageRelease(file), '6.12.118+deb12-amd64')
    } finally {
      rmSync(file)
    }
  })
})

test('--modules: only with an image, and it must hold lib/modules/<the image\'s release>', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpc-vm-modules.'))
  try {
    const image = join(dir, 'bzImage')
    writeFileSync(image, bzImage('6.12.7-custom'))
    const o = { cache: dir, source: FAKE_SOURCE, deadline: new Deadline(60), log: () => {} }
    assert.throws(() => kernelEntry('6.12', { ...o, modules: dir }),
      coded('EINVAL', '--modules goes with --kernel IMAGE (the path of a kernel image), not --kernel 6.12: a Debian kernel brings its own modules'))
    assert.throws(() => kernelEntry(image, { ...o, modules: dir }),
      coded('ENOKERNEL', `--modules ${dir} holds no lib/modules/6.12.7-custom (the release of ${image}): give the directory make modules_install INSTALL_MOD_PATH= wrote into`))
    mkdirSync(join(dir, 'lib/modules/6.12.7-custom'), { recursive: true })
    // No kernel tree and no build/ link: no headers, which only building a module needs.
    assert.deepEqual(kernelEntry(image, { ...o, modules: dir }), { release: '6.12.7-custom', image, modules: dir, kdir: undefined })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('kernel reports: the first warning with its lines; an allocation failure\'s call trace is none, a warning inside it is', () => {
  const warn = ['[ 1.0] ok', '[ 2.0] WARNING: CPU: 0 PID: 1 at drv.c:3 f+0x1/0x2', '[ 2.1] Call Trace:', '', '[ 2.2] end'].join('\n')
  assert.deepEqual(firstReport(warn), { line: 2, text: ['[ 2.0] WARNING: CPU: 0 PID: 1 at drv.c:3 f+0x1/0x2', '[ 2.1] Call Trace:', '[ 2.2] end'] })
  const alloc = ['x: page allocation failure: order:9', 'Call Trace:', ' <TASK>', ' dump_stack', ' </TASK>', 'fine'].join('\n')
  assert.equal(firstReport(alloc), undefined)
  assert.equal(firstReport(`${alloc}\nCall Trace:`)?.line, 7)
  assert.equal(firstReport('a\nmodule: loading out-of-tree module taints kernel.\nb'), undefined)
  assert.equal(oomKilled('Out of memory: Killed process 42 (node) total-vm:1kB'), 'node')
})

test('the console: phase marks are not shown, whole or split across reads; nothing after the end mark', () => {
  let shown = ''
  const phases: string[] = []
  const f = new ConsoleFilter({ write: (s: string) => (shown += s) }, (p) => phases.push(p))
  f.write(`${PHASE_MARK}lo`)
  f.write('ad\nhel')
  f.write('lo\n$ ')
  f.write(`${PHASE_MARK}command\nbye\n${PHASE_MARK}end\n[ 5.1] reboot: Restarting system\n`)
  f.end()
  assert.equal(shown, 'hello\n$ bye\n')
  assert.deepEqual(phases, ['load', 'command'])
})

test('cpio: newc headers, names NUL-terminated and padded to 4 bytes, the trailer', () => {
  const a = cpio([{ path: 'init', mode: 0o100755, data: Buffer.from('#!') }])
  assert.equal(a.toString('latin1', 0, 6), '070701')
  assert.equal(a.toString('latin1', 6 + 8, 6 + 16), '000081ed') // mode
  assert.equal(a.toString('latin1', 110, 115), 'init\0')
  assert.equal(a.toString('latin1', 116, 118), '#!') // 110 + 5 name bytes, padded to 116
  assert.ok(a.includes('TRAILER!!!\0'))
  assert.equal(a.length % 4, 0)
})

test('the accelerator: KPROBECOV_QEMU_ACCEL, else KVM where /dev/kvm opens, else TCG in one thread; a deadline names its phase', () => {
  assert.equal(chooseAccel({ KPROBECOV_QEMU_ACCEL: 'tcg' }), 'tcg')
  assert.equal(chooseAccel({}, '/nonexistent/kvm'), 'tcg-single')
  assert.throws(() => chooseAccel({ KPROBECOV_QEMU_ACCEL: 'hvf' }), coded('EINVAL', "KPROBECOV_QEMU_ACCEL must be kvm, tcg or tcg-single, not 'hvf': unset it"))
  assert.throws(() => new Deadline(5, Date.now() - 6000).left('build'), coded('ETIMEDOUT', 'timed out after 5 s in phase build: give a longer --timeout'))
})
