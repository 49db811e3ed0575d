/**
 * The system programs `kprobecov module` runs (make, insmod, rmmod, modinfo,
 * dkms): found on PATH and, as sudo's secure_path would, in the sbin
 * directories a user's PATH often lacks.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin']

export function findProgram(name: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN]
  for (const dir of dirs) {
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}
