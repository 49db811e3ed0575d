// kprobecov module: the sources and their hash, the build against real kernel headers
// (cached per release and source), the one-line errors of build, insmod and rmmod, and
// DKMS driven through a FAKE dkms program that records what it was asked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { KprobecovError } from '../src/errors.ts'
import { buildModule, cacheDir, kernelTree } from '../src/module/build.ts'
import { dkmsInstall, dkmsVersion } from '../src/module/dkms.ts'
import { groupId, insmodFailure } from '../src/module/load.ts'
import { locateModuleSources, moduleSources, sourceFiles } from '../src/module/sources.ts'
import { version } from '../src/version.ts'
import { cli, inTmp } from './cli-helpers.ts'

const root = resolve(import.meta.dirname, '../../..')
const KDIR = process.env.KDIR

const coded = (code: string, ...parts: string[]) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError, String(e))
  assert.equal(e.code, code)
  for (const p of parts) assert.ok(e.message.includes(p), e.message)
  assert.ok(!e.message.includes('\n'), e.message)
  return true
}

test('a checkout builds from its kmod/; the files are the sources, not kbuild\'s outputs or the tests', () => {
  assert.equal(locateModuleSources({}), join(root, 'kmod'))
  const files = sourceFiles(join(root, 'kmod'))
  assert.ok(files.includes('Kbuild') && files.includes('main.c') && files.includes('dkms.conf') && files.includes('include/uapi/linux/kprobecov.h'))
  assert.deepEqual(files.filter((f) => f.startsWith('tests/') || f.endsWith('.mod.c') || f.endsWith('.o')), [])
})

test('installed (inside node_modules): the sources of @kprobecov/kmod, or one line naming the fix', () => inTmp((tmp) => {
  const from = join(tmp, 'proj/node_modules/@kprobecov/core/dist/src/module')
  mkdirSync(from, { recursive: true })
  assert.throws(() => locateModuleSources({}, from), coded('ENOKMODSRC', '@kprobecov/kmod', 'is not installed: reinstall @kprobecov/core'))
  const pkg = join(tmp, 'proj/node_modules/@kprobecov/kmod')
  mkdirSync(pkg, { recursive: true })
  writeFileSync(join(pkg, 'package.json'), '{"name":"@kprobecov/kmod"}')
  assert.throws(() => locateModuleSources({}, from), coded('ENOKMODSRC', 'holds no sources in src/'))
  cpSync(join(root, 'kmod'), join(pkg, 'src'), { recursive: true })
  assert.equal(locateModuleSources({}, from), join(pkg, 'src'))
  assert.throws(() => locateModuleSources({ KPROBECOV_KMOD_SRC: tmp }, from), coded('ENOKMODSRC', `KPROBECOV_KMOD_SRC=${tmp} holds no`))
}))

test('the source hash changes with any source file, and only with them', () => inTmp((tmp) => {
  cpSync(join(root, 'kmod'), join(tmp, 'kmod'), { recursive: true, filter: (f) => !f.includes('/tests') })
  const env = { KPROBECOV_KMOD_SRC: join(tmp, 'kmod') }
  const before = moduleSources(env).hash
  writeFileSync(join(tmp, 'kmod/kprobecov.mod.c'), 'kbuild output')
  assert.equal(moduleSources(env).hash, before)
  writeFileSync(join(tmp, 'kmod/hit.c'), `${readFileSync(join(tmp, 'kmod/hit.c'), 'utf8')}\n`)
  assert.notEqual(moduleSources(env).hash, before)
}))

test('the cache: $KPROBECOV_CACHE, else $XDG_CACHE_HOME/kprobecov, else ~/.cache/kprobecov', () => {
  assert.equal(cacheDir({ KPROBECOV_CACHE: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/c')
  assert.equal(cacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }), '/x/kprobecov')
  assert.equal(cacheDir({ HOME: '/h' }), '/h/.cache/kprobecov')
})

test('no headers for the running kernel, or a --kdir that is none: one line naming the fix', () => inTmp((tmp) => {
  assert.throws(() => kernelTree(undefined, '9.9.9-none'),
    coded('EKMODBUILD', 'no kernel headers for the running kernel 9.9.9-none', 'sudo apt-get install linux-headers-9.9.9-none'))
  assert.throws(() => kernelTree(tmp, '9.9.9-none'), coded('EKMODBUILD', `--kdir ${tmp} is no kernel build tree`))
  writeFileSync(join(tmp, 'Makefile'), '')
  assert.throws(() => kernelTree(tmp, '9.9.9-none'), coded('EKMODBUILD', 'is not a prepared kernel build tree'))
}))

test('built against the headers once per release and source; MODULE_VERSION is this version', { skip: KDIR === undefined && 'KDIR unset' }, () => inTmp((tmp) => {
  const tree = kernelTree(KDIR!)
  assert.match(tree.release, /^\d+\.\d+\.\d+-/, 'the release uname -r says (UTS_RELEASE), not the upstream version')
  const sources = moduleSources({})
  const first = buildModule({ sources, tree, cache: tmp })
  assert.equal(first.cached, false)
  assert.ok(first.ko.startsWith(join(tmp, 'kmod', tree.release)), first.ko)
  assert.equal(execFileSync('modinfo', ['-F', 'version', first.ko], { encoding: 'utf8' }).trim(), version)
  assert.equal(execFileSync('modinfo', ['-F', 'vermagic', first.ko], { encoding: 'utf8' }).split(' ')[0], tree.release)
  const again = buildModule({ sources, tree, cache: tmp })
  assert.deepEqual(again, { ...first, cached: true })
}))

test('a compile error: the compiler\'s output, then one line', { skip: KDIR === undefined && 'KDIR unset' }, () => inTmp((tmp) => {
  cpSync(join(root, 'kmod'), join(tmp, 'src'), { recursive: true, filter: (f) => !f.includes('/tests') })
  writeFileSync(join(tmp, 'src/hit.c'), 'this is not C;\n')
  let output = ''
  assert.throws(() => buildModule({
    sources: moduleSources({ KPROBECOV_KMOD_SRC: join(tmp, 'src') }), tree: kernelTree(KDIR!), cache: join(tmp, 'cache'),
    onFailureOutput: (t) => { output += t },
  }), coded('EKMODBUILD', 'kprobecov.ko did not build against', 'the compiler\'s output is above'))
  assert.match(output, /hit\.c:1:\d+: error/)
  assert.equal(existsSync(join(tmp, 'cache/kmod')) && execFileSync('find', [join(tmp, 'cache/kmod'), '-name', '*.ko'], { encoding: 'utf8' }), '', 'nothing half-built is cached')
}))

test('insmod\'s refusals, each one line with its fix', () => {
  const ko = '/c/kprobecov.ko'
  const line = (stderr: string, root = true) => insmodFailure(stderr, ko, '6.1.0-57-amd64', root).message
  assert.equal(line('insmod: ERROR: could not insert module /c/kprobecov.ko: Key was rejected by service\n'),
    'cannot load /c/kprobecov.ko (could not insert module /c/kprobecov.ko: Key was rejected by service): the kernel loads only signed modules (Secure Boot): sign /c/kprobecov.ko with your Machine Owner Key (see the README\'s "Secure Boot"), or use a machine without signature enforcement')
  assert.match(line('insmod: ERROR: could not insert module x: Operation not permitted', false), /: load needs root: run it with sudo \(sudo npx kprobecov module load\)$/)
  assert.match(line('insmod: ERROR: could not insert module x: Operation not permitted'), /kernel lockdown under Secure Boot, or kernel\.modules_disabled=1/)
  assert.match(line('insmod: ERROR: could not insert module x: Invalid module format'), /built for another kernel than the running 6\.1\.0-57-amd64: build it again \(sudo npx kprobecov module load --rebuild\)/)
  assert.match(line('insmod: ERROR: could not insert module x: Unknown symbol in module'), /it needs CONFIG_KPROBES/)
  assert.match(line('insmod: ERROR: could not insert module x: File exists'), /sudo npx kprobecov module unload/)
})

test('--group names a group of /etc/group, or a gid; an unknown one says to create it', () => inTmp((tmp) => {
  writeFileSync(join(tmp, 'group'), 'root:x:0:\nkerneldev:x:1234:alice,bob\n')
  assert.equal(groupId('kerneldev', join(tmp, 'group')), 1234)
  assert.equal(groupId('77', join(tmp, 'group')), 77)
  assert.throws(() => groupId('nobody-here', join(tmp, 'group')), coded('EKMODLOAD', "there is no group 'nobody-here'", 'sudo groupadd nobody-here'))
}))

test('DKMS: the sources go to /usr/src/kprobecov-<version>, then add, build, install (FAKE dkms)', { skip: process.getuid?.() !== 0 && 'not root' }, () => inTmp((tmp) => {
  const bin = join(tmp, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'dkms'), `#!/bin/sh\necho "$*" >>${join(tmp, 'calls')}\n`)
  chmodSync(join(bin, 'dkms'), 0o755)
  const logged: string[] = []
  const v = dkmsInstall({
    sourcesDir: join(root, 'kmod'), release: '6.1.0-57-amd64', usrSrc: join(tmp, 'usr-src'),
    env: { PATH: bin }, log: (t) => logged.push(t),
  })
  assert.equal(v, version)
  assert.equal(dkmsVersion(join(root, 'kmod')), version)
  assert.ok(existsSync(join(tmp, `usr-src/kprobecov-${version}/dkms.conf`)))
  assert.ok(existsSync(join(tmp, `usr-src/kprobecov-${version}/include/uapi/linux/kprobecov.h`)))
  assert.deepEqual(readFileSync(join(tmp, 'calls'), 'utf8').trim().split('\n'), [
    `status -m kprobecov -v ${version}`,
    `add -m kprobecov -v ${version}`,
    `build -m kprobecov -v ${version} -k 6.1.0-57-amd64 --force`,
    `install -m kprobecov -v ${version} -k 6.1.0-57-amd64 --force`,
  ])
  assert.throws(() => dkmsInstall({ sourcesDir: join(root, 'kmod'), release: 'r', usrSrc: tmp, env: { PATH: join(tmp, 'none') }, log: () => {} }),
    coded('EKMODBUILD', 'dkms is not installed: install it (Debian/Ubuntu: sudo apt-get install dkms'))
}))

test('kprobecov module: an unknown action is a usage error; status without the module says how to load it', async () => {
  const bad = await cli(['module', 'bogus'])
  assert.equal(bad.status, 2)
  assert.equal(bad.stderr, "kprobecov module: unknown action 'bogus': use one of build, load, unload, status, dkms (see kprobecov module --help)\n")
  const st = await cli(['module', 'status'], { system: { sys: join(root, 'no-such-sys') } })
  assert.equal(st.status, 1)
  assert.match(st.stdout, /^kprobecov\.ko: not loaded \(load it: sudo npx kprobecov module load\)$/m)
  assert.match(st.stdout, new RegExp(`^@kprobecov/core ${version.replaceAll('.', '\\.')}, ABI \\d+$`, 'm'))
})
