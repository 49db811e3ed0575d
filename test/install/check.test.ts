// What test/install/run.sh left in INSTALL_DIR, judged as a user would: the packed
// tarballs hold what a user needs and no more; the native library loads with what every
// Debian and Ubuntu has; in both installed projects (npm + Node 24, pnpm + Node 22) the
// module was built and loaded by the CLI, and Vitest, Jest and `kprobecov run` reported
// exactly the driver lines each test file ran, merged and per test file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'

const work = process.env.INSTALL_DIR ?? ''
const root = process.env.KPROBECOV_ROOT ?? ''
const read = (f: string) => readFileSync(join(work, f), 'utf8')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

// ---- the tarballs and the native library --------------------------------------------

test('every tarball ships its licence and README, and no sources, tests, maps or build info', () => {
  const tarballs = readdirSync(join(work, 'packs')).filter((f) => f.endsWith('.tgz'))
  assert.deepEqual(tarballs.map((t) => t.replace(/-\d.*$/, '')).sort(),
    ['kprobecov-core', 'kprobecov-jest', 'kprobecov-kmod', 'kprobecov-native-linux-x64-gnu', 'kprobecov-vitest'])
  for (const t of tarballs) {
    const files = execFileSync('tar', ['tzf', join(work, 'packs', t)], { encoding: 'utf8' }).trim().split('\n')
    assert.ok(files.includes('package/LICENSE'), `${t}: LICENSE`)
    assert.ok(files.includes('package/README.md'), `${t}: README.md`)
    const bad = files.filter((f) => /\.tsbuildinfo$|\.map$|\/test\/|\.test\.|\.o$|\.ko$|\.mod\.c$/.test(f) ||
      (f.startsWith('package/src/') && !t.startsWith('kprobecov-kmod')))
    assert.deepEqual(bad, [], t)
  }
})

test('pnpm publish --dry-run -r is clean: the five packages, nothing else, no error', () => {
  const out = read('logs/publish-dry-run.log')
  assert.equal(read('logs/publish-dry-run.rc').trim(), '0', out)
  assert.deepEqual([...out.matchAll(/Skip publishing (@kprobecov\/[\w-]+)@/g)].map((m) => m[1]).sort(),
    ['@kprobecov/core', '@kprobecov/jest', '@kprobecov/kmod', '@kprobecov/native-linux-x64-gnu', '@kprobecov/vitest'])
  assert.doesNotMatch(out, /ERR_|error/i)
})

const nativeDir = () => join(work, 'npm/node_modules/@kprobecov/native-linux-x64-gnu')
const dynamic = (file: string) => execFileSync('readelf', ['-d', '-W', file], { encoding: 'utf8' })
const needed = (file: string) => [...dynamic(file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort()

// Always installed on Debian and Ubuntu: libc6, and what dpkg itself pre-depends on.
const SYSTEM = ['ld-linux-x86-64.so.2', 'libbz2.so.1.0', 'libc.so.6', 'liblzma.so.5', 'libz.so.1']
const BUNDLED = ['libdw.so.1', 'libelf.so.1']

test('libkprobecov.so needs only the system\'s libraries and the two it ships (RUNPATH $ORIGIN)', () => {
  const lib = join(nativeDir(), 'libkprobecov.so')
  for (const n of needed(lib)) assert.ok([...SYSTEM, ...BUNDLED].includes(n), `libkprobecov.so needs ${n}`)
  assert.match(dynamic(lib), /\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]/)
  for (const b of BUNDLED) {
    for (const n of needed(join(nativeDir(), b))) assert.ok([...SYSTEM, ...BUNDLED].includes(n), `${b} needs ${n}`)
  }
  assert.deepEqual(needed(join(nativeDir(), 'libkpc-kcov-preload.so')).filter((n) => !SYSTEM.includes(n)), [])
})

test('the loader takes elfutils from the package, not from the system', () => {
  const out = execFileSync('/lib64/ld-linux-x86-64.so.2', ['--list', join(nativeDir(), 'libkprobecov.so')], { encoding: 'utf8' })
  const dir = realpathSync(nativeDir())
  for (const b of BUNDLED) assert.match(out, new RegExp(`${b.replaceAll('.', '\\.')} => ${dir}/${b.replaceAll('.', '\\.')} `), out)
})

test('the native binaries need no glibc newer than 2.34 (Ubuntu 22.04 has 2.35)', () => {
  for (const f of ['libkprobecov.so', 'libkpc-kcov-preload.so', ...BUNDLED]) {
    const syms = execFileSync('objdump', ['-T', join(nativeDir(), f)], { encoding: 'utf8' })
    for (const m of syms.matchAll(/GLIBC_2\.(\d+)/g)) assert.ok(Number(m[1]) <= 34, `${f} needs GLIBC_2.${m[1]}`)
  }
})

// ---- the installed projects, run in the guest -----------------------------------------

const LINES = ['add', 'clamp', 'sub', 'reset', 'too-long'] as const
type Mark = (typeof LINES)[number]
const source = readFileSync(join(root, 'test/install/project/driver/kpcdemo.c'), 'utf8').split('\n')
const lineOf = (m: Mark) => source.findIndex((l) => l.includes(`/* mark:${m} */`)) + 1

/** The marked lines as lcov says them: 'hit', 'missed', or absent (no DA). */
function marks(lcov: string): Record<Mark, 'hit' | 'missed' | 'absent'> {
  const sf = lcov.split('end_of_record').find((r) => /^SF:driver\/kpcdemo\.c$/m.test(r))
  assert.ok(sf !== undefined, `no record SF:driver/kpcdemo.c in\n${lcov}`)
  const out = {} as Record<Mark, 'hit' | 'missed' | 'absent'>
  for (const m of LINES) {
    const da = new RegExp(`^DA:${lineOf(m)},(\\d+)$`, 'm').exec(sf)
    out[m] = da === null ? 'absent' : Number(da[1]) > 0 ? 'hit' : 'missed'
  }
  return out
}

const ADD = { add: 'hit', clamp: 'missed', sub: 'missed', reset: 'hit', 'too-long': 'missed' }
const SUB = { add: 'missed', clamp: 'hit', sub: 'hit', reset: 'hit', 'too-long': 'missed' }
const BOTH = { add: 'hit', clamp: 'hit', sub: 'hit', reset: 'hit', 'too-long': 'missed' }

const rc = (p: string, step: string) => {
  const f = join(work, 'logs', `${p}-${step}.rc`)
  return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined
}
const log = (p: string, step: string) => {
  const f = join(work, 'logs', `${p}-${step}.log`)
  return existsSync(f) ? readFileSync(f, 'utf8') : `(no ${p}-${step}.log: the guest did not get there; see logs/guest.log)`
}

for (const [p, node] of [['npm', 'v24.'], ['pnpm', 'v22.']] as const) {
  test(`${p}: the project ran under Node ${node}x`, () => {
    assert.ok(read(`logs/${p}-node.version`).startsWith(node), read(`logs/${p}-node.version`))
  })

  test(`${p}: nothing of the project resolves into this repository`, () => {
    for (const name of ['core', 'kmod', 'native-linux-x64-gnu', 'vitest', 'jest']) {
      const real = realpathSync(join(work, p, 'node_modules/@kprobecov', name))
      assert.ok(!real.startsWith(`${root}/`), `${name} -> ${real}`)
    }
  })

  test(`${p}: a TypeScript Jest config typechecks against @kprobecov/jest's types, which are Jest's own`, () => {
    assert.equal(rc(p, 'types'), 0, log(p, 'types'))
  })

  test(`${p}: kprobecov module load built (or found in the cache) and loaded kprobecov.ko ${version}`, () => {
    const out = log(p, 'load')
    assert.equal(rc(p, 'load'), 0, out)
    assert.match(out, new RegExp(`^kprobecov\\.ko ${version.replaceAll('.', '\\.')} for \\S+: \\S+/kmod/\\S+/kprobecov\\.ko${p === 'npm' ? '$' : ' \\(cached\\)$'}`, 'm'))
    assert.match(out, new RegExp(`^loaded kprobecov\\.ko ${version.replaceAll('.', '\\.')}$`, 'm'))
    assert.match(out, /^\/dev\/kprobecov answers, ABI \d+$/m)
  })

  test(`${p}: kprobecov module status shows the loaded module`, () => {
    assert.equal(rc(p, 'status'), 0, log(p, 'status'))
    assert.match(log(p, 'status'), new RegExp(`^kprobecov\\.ko: loaded, version ${version.replaceAll('.', '\\.')}, srcversion \\w+$`, 'm'))
  })

  test(`${p}: Vitest: the driver's lines, merged and per test file`, () => {
    assert.equal(rc(p, 'vitest'), 0, log(p, 'vitest'))
    assert.deepEqual(marks(read(`${p}/coverage/lcov.info`)), BOTH)
    assert.deepEqual(marks(read(`${p}/coverage/per-test/test/add.test.ts/lcov.info`)), ADD)
    assert.deepEqual(marks(read(`${p}/coverage/per-test/test/sub.test.ts/lcov.info`)), SUB)
  })

  test(`${p}: Jest: the driver's lines, merged and per test file`, () => {
    assert.equal(rc(p, 'jest'), 0, log(p, 'jest'))
    assert.deepEqual(marks(read(`${p}/coverage/kernel/lcov.info`)), BOTH)
    assert.deepEqual(marks(read(`${p}/coverage/kernel/per-test/jest/add.test.js/lcov.info`)), ADD)
    assert.deepEqual(marks(read(`${p}/coverage/kernel/per-test/jest/sub.test.js/lcov.info`)), SUB)
  })

  test(`${p}: kprobecov run: the lines the shell script ran`, () => {
    assert.equal(rc(p, 'run'), 0, log(p, 'run'))
    assert.deepEqual(marks(read(`${p}/coverage/run/lcov.info`)), ADD)
  })

  test(`${p}: kprobecov module unload`, () => {
    assert.equal(rc(p, 'unload'), 0, log(p, 'unload'))
    assert.match(log(p, 'unload'), /^unloaded kprobecov\.ko$/m)
  })
}

test('npm: kprobecov vm, from the tarball, built the driver for the guest kernel and loaded it after kprobecov.ko', () => {
  assert.equal(rc('npm', 'vm'), 0, log('npm', 'vm'))
  assert.match(log('npm', 'vm'), new RegExp(`^live\\n${version.replaceAll('.', '\\.')}\\nv24\\.\\d+\\.\\d+$`, 'm'))
})

test('the guest ran clean (exit 0, no kernel warning)', () => {
  assert.equal(read('logs/guest.rc').trim(), '0', read('logs/guest.log').slice(-3000))
})
