// A case's test: its inputs (cases/<case>.txt, one write a line, as the gcov run writes
// them) to /dev/kpc_fidelity.
import { readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { test } from 'vitest'

export function drive(testFile: string): void {
  const name = basename(testFile, '.test.ts')
  const inputs = readFileSync(testFile.replace(/\.test\.ts$/, '.txt'), 'utf8').split('\n').filter((l) => l !== '')
  test(name, () => {
    for (const line of inputs) writeFileSync('/dev/kpc_fidelity', line)
  })
}
