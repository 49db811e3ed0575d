// The native library and the fixture modules of native/tests (kbuild; KDIR from
// build/setup.env), built for the host tests that read real debug info: a no-op
// when they are built.
import { execFileSync } from 'node:child_process'
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
