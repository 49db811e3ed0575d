/**
 * Where the sources of kprobecov.ko are, and their hash (the build cache's
 * key): $KPROBECOV_KMOD_SRC, else in a checkout of kprobecov (this file not
 * inside node_modules) the nearest kmod/ above with a Kbuild, else the
 * package @kprobecov/kmod (its src/, what it ships).
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { KprobecovError } from '../errors.ts'

export interface ModuleSources {
  dir: string
  /** sha256 of every file's relative path and contents, in hex. */
  hash: string
}

const isSourceDir = (dir: string): boolean => existsSync(join(dir, 'Kbuild')) && existsSync(join(dir, 'main.c'))

export function locateModuleSources(env: Record<string, string | undefined> = process.env, from: string = import.meta.dirname): string {
  const fromEnv = env.KPROBECOV_KMOD_SRC
  if (fromEnv !== undefined && fromEnv !== '') {
    const dir = resolve(fromEnv)
    if (!isSourceDir(dir)) throw new KprobecovError('ENOKMODSRC', `KPROBECOV_KMOD_SRC=${fromEnv} holds no kprobecov.ko sources (Kbuild, main.c): unset it`)
    return dir
  }
  const start = resolve(from)
  if (!start.split(sep).includes('node_modules')) {
    for (let dir = start; dirname(dir) !== dir; dir = dirname(dir)) {
      if (isSourceDir(join(dir, 'kmod'))) return join(dir, 'kmod')
    }
  }
  let pkg: string
  try {
    pkg = dirname(createRequire(join(start, 'noop.js')).resolve('@kprobecov/kmod/package.json'))
  } catch {
    throw new KprobecovError('ENOKMODSRC', '@kprobecov/kmod (the sources of kprobecov.ko) is not installed: reinstall @kprobecov/core')
  }
  if (!isSourceDir(join(pkg, 'src'))) throw new KprobecovError('ENOKMODSRC', `${pkg} holds no sources in src/: reinstall @kprobecov/kmod`)
  return join(pkg, 'src')
}

/** The files a build needs: every file under dir but kbuild's outputs and the tests. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) {
        if (name !== 'tests' && !name.startsWith('.')) walk(p)
      } else if (/\.(c|h)$/.test(name) || name === 'Kbuild' || name === 'Makefile' || name === 'dkms.conf') {
        if (!name.endsWith('.mod.c')) out.push(relative(dir, p))
      }
    }
  }
  walk(dir)
  return out
}

export function moduleSources(env?: Record<string, string | undefined>, from?: string): ModuleSources {
  const dir = locateModuleSources(env, from)
  const h = createHash('sha256')
  for (const f of sourceFiles(dir)) h.update(`${f}\0`).update(readFileSync(join(dir, f))).update('\0')
  return { dir, hash: h.digest('hex') }
}
