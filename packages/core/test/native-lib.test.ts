// Finding libkprobecov.so, and the error that names `make -C native` when it is not built.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { KprobecovError } from '../src/errors.ts'
import { locateNativeLibrary } from '../src/native/lib.ts'

const root = resolve(import.meta.dirname, '../../..')

const enolib = (path: string) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError)
  assert.equal(e.code, 'ENOLIB')
  assert.ok(e.message.includes('make -C native'), e.message)
  assert.ok(e.message.includes(path), e.message)
  assert.ok(!e.message.includes('\n'))
  return true
}

test('the library of this checkout is found from the package', () => {
  assert.equal(locateNativeLibrary({}), join(root, 'build/native/libkprobecov.so'))
})

test('KPROBECOV_NATIVE_LIB wins, and must exist', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kpc-lib-test-'))
  try {
    const lib = join(tmp, 'libkprobecov.so')
    writeFileSync(lib, '')
    assert.equal(locateNativeLibrary({ KPROBECOV_NATIVE_LIB: lib }), lib)
    assert.throws(() => locateNativeLibrary({ KPROBECOV_NATIVE_LIB: join(tmp, 'missing.so') }), enolib(join(tmp, 'missing.so')))
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test('without a build/native above the package: ENOLIB naming make -C native', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kpc-lib-test-'))
  try {
    const pkg = join(tmp, 'repo/packages/core/src/native')
    mkdirSync(pkg, { recursive: true })
    assert.throws(() => locateNativeLibrary({}, pkg), enolib(pkg))
    mkdirSync(join(tmp, 'repo/build/native'), { recursive: true })
    writeFileSync(join(tmp, 'repo/build/native/libkprobecov.so'), '')
    assert.equal(locateNativeLibrary({}, pkg), join(tmp, 'repo/build/native/libkprobecov.so'))
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

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
    'KPROBECOV_NATIVE_LIB=/nonexistent/libkprobecov.so does not exist: build it with `make -C native` in the kprobecov repository, or unset KPROBECOV_NATIVE_LIB',
  )
})
