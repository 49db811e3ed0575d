// One version and one set of package metadata, set in the root package.json
// (scripts/version.ts): every package, the module's MODULE_VERSION and dkms.conf agree.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { version } from '../src/version.ts'
import { PACKAGES } from '../../../scripts/version.ts'

const root = resolve(import.meta.dirname, '../../..')

test('every place holds the root package.json\'s version and metadata (scripts/version.ts --check)', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/version.ts'), '--check'], { encoding: 'utf8' })
  assert.equal(r.stderr, '')
  assert.equal(r.status, 0)
})

test('the version of the CLI is the root\'s', () => {
  assert.equal(version, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version)
})

test('every published package has a licence file and a README, and ships no sources or tests', () => {
  for (const { dir } of PACKAGES) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { files: string[]; keywords?: string[] }
    assert.ok(readFileSync(join(root, dir, 'LICENSE'), 'utf8').length > 500, dir)
    assert.match(readFileSync(join(root, dir, 'README.md'), 'utf8'), /^# @kprobecov\//, dir)
    assert.ok((pkg.keywords ?? []).length > 0, dir)
    for (const f of pkg.files) assert.ok(!/^(src|test|bench)$/.test(f) || dir === 'packages/kmod', `${dir}: ${f}`)
  }
})
