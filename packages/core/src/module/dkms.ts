/**
 * kprobecov.ko into DKMS: the sources go to /usr/src/kprobecov-<version>/
 * (dkms.conf among them), then `dkms add`, `build` and `install` for the
 * running kernel; DKMS rebuilds it for every kernel installed later.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { findProgram } from './programs.ts'
import { sourceFiles } from './sources.ts'

export interface DkmsOptions {
  sourcesDir: string
  release: string
  /** Where DKMS looks for sources; default /usr/src. */
  usrSrc?: string
  env?: Record<string, string | undefined>
  /** Each dkms command line and its output, as it runs. */
  log: (text: string) => void
}

/** PACKAGE_VERSION of the sources' dkms.conf. */
export function dkmsVersion(sourcesDir: string): string {
  const conf = readFileSync(join(sourcesDir, 'dkms.conf'), 'utf8')
  const v = /^PACKAGE_VERSION="?([^"\n]+)"?$/m.exec(conf)?.[1]
  if (v === undefined) throw new KprobecovError('EKMODBUILD', `${join(sourcesDir, 'dkms.conf')} names no PACKAGE_VERSION: reinstall @kprobecov/kmod`)
  return v
}

/** Returns the version installed. Throws EKMODBUILD naming the fix. */
export function dkmsInstall(o: DkmsOptions): string {
  const env = o.env ?? process.env
  if (process.getuid?.() !== 0) throw new KprobecovError('EKMODBUILD', 'installing into DKMS needs root: sudo npx kprobecov module dkms')
  const dkms = findProgram('dkms', env)
  if (dkms === undefined) throw new KprobecovError('EKMODBUILD', 'dkms is not installed: install it (Debian/Ubuntu: sudo apt-get install dkms; Fedora: sudo dnf install dkms)')
  const version = dkmsVersion(o.sourcesDir)
  const dest = join(o.usrSrc ?? '/usr/src', `kprobecov-${version}`)
  rmSync(dest, { recursive: true, force: true })
  mkdirSync(dest, { recursive: true })
  for (const f of sourceFiles(o.sourcesDir)) cpSync(join(o.sourcesDir, f), join(dest, f), { recursive: true })
  const run = (args: string[], mayFail = false): string => {
    o.log(`dkms ${args.join(' ')}\n`)
    const r = spawnSync(dkms, args, { encoding: 'utf8', env: env as NodeJS.ProcessEnv })
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`
    if (r.status !== 0 && !mayFail) {
      o.log(out)
      throw new KprobecovError('EKMODBUILD', `dkms ${args[0]} failed (status ${r.status}; its output is above): check the kernel headers of ${o.release} (sudo apt-get install linux-headers-${o.release})`)
    }
    return out
  }
  const mv = ['-m', 'kprobecov', '-v', version]
  if (!/kprobecov/.test(run(['status', ...mv], true))) run(['add', ...mv])
  run(['build', ...mv, '-k', o.release, '--force'])
  run(['install', ...mv, '-k', o.release, '--force'])
  return version
}
