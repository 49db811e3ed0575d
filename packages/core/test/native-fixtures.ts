// The native library and the fixture modules of native/tests (kbuild; KDIR from
// build/setup.env), built for the host tests that read real debug info: a no-op
// when they are built; and the lines their sources mark.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '../../..')

export function makeNativeFixtures(): void {
  try {
    execFileSync('make', ['-s', '-C', join(root, 'native'), 'all', 'fixture'], { stdio: 'pipe' })
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer }
    throw new Error(`make -C native all fixture failed:\n${err.stdout}${err.stderr}`)
  }
}

/** The 1-based line of source marked "KPC:<name>" (followed by the comment's end). */
export function markerLine(source: string, name: string): number {
  const i = readFileSync(source, 'utf8').split('\n').findIndex((l) => l.includes(`KPC:${name} */`))
  assert.ok(i >= 0, `no marker KPC:${name}`)
  return i + 1
}
