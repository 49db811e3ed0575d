/**
 * Files @kprobecov/core ships besides its code (assets/, in the package's
 * "files"): found from this module, in the sources (src/vm/) as in the build
 * (dist/src/vm/), by walking up to the package's root.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { KprobecovError } from '../errors.ts'

export function asset(name: string, from: string = import.meta.dirname): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'assets', name)
    if (existsSync(file) && existsSync(join(dir, 'package.json'))) return file
  }
  throw new KprobecovError('ENOENT', `assets/${name} of @kprobecov/core is missing: reinstall @kprobecov/core`)
}
