// Finding libkprobecov.so: the override, a checkout's build, the platform package; and
// the one-line errors when none is there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { KprobecovError } from '../src/errors.ts'
import { locateNativeLibrary, nativePlatform } from '../src/native/lib.ts'
import { inTmp } from './cli-helpers.ts'

const root = resolve(import.meta.dirname, '../../..')

const enolib = (...parts: string[]) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError)
  assert.equal(e.code, 'ENOLIB')
  for (const p of parts) assert.ok(e.message.includes(p), e.message)
  assert.ok(!e.message.includes('\n'))
  return true
}

const touch = (file: string) => {
  mkdirSync(resolve(file, '..'), { recursive: true })
  writeFileSync(file, '')
}

test('this machine is linux-x64-gnu', () => {
  assert.equal(nativePlatform(), 'linux-x64-gnu')
})

test('the library of this checkout is found from the package', () => {
  assert.equal(locateNativeLibrary({}), join(root, 'build/native/libkprobecov.so'))
})

test('KPROBECOV_NATIVE_LIB wins, and must exist', () => inTmp((tmp) => {
  const lib = join(tmp, 'libkprobecov.so')
  writeFileSync(lib, '')
  assert.equal(locateNativeLibrary({ KPROBECOV_NATIVE_LIB: lib }), lib)
  assert.throws(() => locateNativeLibrary({ KPROBECOV_NATIVE_LIB: join(tmp, 'missing.so') }),
    enolib(`KPROBECOV_NATIVE_LIB=${join(tmp, 'missing.so')} does not exist: unset it`))
}))

test('a checkout: the nearest build/native above', () => inTmp((tmp) => {
  const src = join(tmp, 'repo/packages/core/src/native')
  mkdirSync(src, { recursive: true })
  touch(join(tmp, 'repo/build/native/libkprobecov.so'))
  assert.equal(locateNativeLibrary({}, src), join(tmp, 'repo/build/native/libkprobecov.so'))
}))

test('installed (inside node_modules): the platform package, never a build/native above', () => inTmp((tmp) => {
  const core = join(tmp, 'proj/node_modules/@kprobecov/core/dist/src/native')
  mkdirSync(core, { recursive: true })
  touch(join(tmp, 'build/native/libkprobecov.so'))
  touch(join(tmp, 'proj/build/native/libkprobecov.so'))
  const pkg = join(tmp, 'proj/node_modules/@kprobecov/native-linux-x64-gnu')
  assert.throws(() => locateNativeLibrary({}, core, 'linux-x64-gnu'),
    enolib('@kprobecov/native-linux-x64-gnu is not installed', '--omit=optional'))
  touch(join(pkg, 'package.json'))
  writeFileSync(join(pkg, 'package.json'), '{"name":"@kprobecov/native-linux-x64-gnu"}')
  assert.throws(() => locateNativeLibrary({}, core, 'linux-x64-gnu'), enolib(`holds no libkprobecov.so: reinstall it`))
  touch(join(pkg, 'libkprobecov.so'))
  assert.equal(locateNativeLibrary({}, core, 'linux-x64-gnu'), join(pkg, 'libkprobecov.so'))
}))

test('a platform without a package: one line that says so', () => inTmp((tmp) => {
  const core = join(tmp, 'proj/node_modules/@kprobecov/core/dist/src/native')
  mkdirSync(core, { recursive: true })
  assert.throws(() => locateNativeLibrary({}, core, 'linux-arm64-musl'),
    enolib('kprobecov has no native library for linux-arm64-musl (it has for linux-x64-gnu)'))
}))

test('loadDebugInfo with the library missing fails with that message (fresh process)', () => {
  const script = `
    import { loadDebugInfo } from ${JSON.stringify(join(root, 'packages/core/src/native/debuginfo.ts'))}
    try { loadDebugInfo(process.execPath); console.log('loaded') }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, KPROBECOV_NATIVE_LIB: '/nonexistent/libkprobecov.so' },
    encoding: 'utf8',
  })
  const { code, message } = JSON.parse(out) as { code: string; message: string }
  assert.equal(code, 'ENOLIB')
  assert.equal(
    message,
    'KPROBECOV_NATIVE_LIB=/nonexistent/libkprobecov.so does not exist: unset it to use the library of @kprobecov/native-linux-x64-gnu',
  )
})
