/**
 * Builds kprobecov.ko against a kernel's build tree, once per kernel release
 * and source hash: <cache>/kmod/<release>/<hash>/kprobecov.ko. The cache is
 * $KPROBECOV_CACHE, else $XDG_CACHE_HOME/kprobecov, else ~/.cache/kprobecov.
 * A build happens in a directory of its own and is renamed into place when
 * it succeeded, so a cached .ko is always whole.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { homedir, release as runningRelease } from 'node:os'
import { dirname, join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { sourceFiles, type ModuleSources } from './sources.ts'
import { findProgram } from './programs.ts'

export const KO_NAME = 'kprobecov.ko'

export function cacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.KPROBECOV_CACHE) return env.KPROBECOV_CACHE
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'kprobecov')
  return join(env.HOME || homedir(), '.cache', 'kprobecov')
}

export interface KernelTree {
  /** The kbuild tree modules are built against. */
  kdir: string
  /** Its kernel release as uname -r says it (UTS_RELEASE of include/generated/utsrelease.h), e.g. 6.1.0-57-amd64. */
  release: string
}

/** The headers to install for a release, per distribution family. */
export function headersHint(release: string): string {
  return `install the kernel headers (Debian/Ubuntu: sudo apt-get install linux-headers-${release}; Fedora: sudo dnf install kernel-devel-${release}) or give --kdir`
}

/** The build tree: `kdir` if given, else /lib/modules/<running release>/build. Throws EKMODBUILD naming the fix. */
export function kernelTree(kdir?: string, release: string = runningRelease()): KernelTree {
  const dir = kdir ?? `/lib/modules/${release}/build`
  if (!existsSync(join(dir, 'Makefile'))) {
    throw new KprobecovError('EKMODBUILD', kdir === undefined
      ? `no kernel headers for the running kernel ${release} (${dir} is missing): ${headersHint(release)}`
      : `--kdir ${kdir} is no kernel build tree (it has no Makefile): point it at one, e.g. /lib/modules/<release>/build`)
  }
  // Not include/config/kernel.release: Debian's headers have the upstream version there (6.1.192).
  let treeRelease: string | undefined
  try {
    treeRelease = /^#define UTS_RELEASE "([^"]+)"/m.exec(readFileSync(join(dir, 'include/generated/utsrelease.h'), 'utf8'))?.[1]
  } catch {
    treeRelease = undefined
  }
  if (!treeRelease) {
    throw new KprobecovError('EKMODBUILD', `${dir} is not a prepared kernel build tree (include/generated/utsrelease.h is missing): ${headersHint(release)}`)
  }
  return { kdir: dir, release: treeRelease }
}

export interface BuiltModule {
  ko: string
  release: string
  /** Whether it came from the cache. */
  cached: boolean
}

export interface BuildOptions {
  sources: ModuleSources
  tree: KernelTree
  cache: string
  /** Build again even when the cache has it. */
  force?: boolean
  env?: Record<string, string | undefined>
  /** Gets the compiler's output when the build fails (before the error is thrown). */
  onFailureOutput?: (text: string) => void
}

/** Where the .ko of these sources for this release is (or would be). */
export const cachedModulePath = (cache: string, release: string, hash: string): string =>
  join(cache, 'kmod', release, hash.slice(0, 16), KO_NAME)

export function buildModule(o: BuildOptions): BuiltModule {
  const { tree, sources } = o
  const ko = cachedModulePath(o.cache, tree.release, sources.hash)
  if (!o.force && existsSync(ko)) return { ko, release: tree.release, cached: true }
  const env = o.env ?? process.env
  const make = findProgram('make', env)
  if (make === undefined) throw new KprobecovError('EKMODBUILD', 'make is not installed: install it with the compiler (Debian/Ubuntu: sudo apt-get install make gcc)')
  if (findProgram('gcc', env) === undefined && findProgram('cc', env) === undefined) {
    throw new KprobecovError('EKMODBUILD', 'no C compiler is installed: install the one the kernel was built with (Debian/Ubuntu: sudo apt-get install gcc)')
  }
  const final = dirname(ko)
  const work = `${final}.build-${process.pid}`
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  try {
    for (const f of sourceFiles(sources.dir)) cpSync(join(sources.dir, f), join(work, f), { recursive: true })
    // KPROBECOV_WERROR=0: a newer compiler's new warnings must not stop a user's build.
    const r = spawnSync(make, ['-C', tree.kdir, `M=${work}`, 'KPROBECOV_WERROR=0', 'modules'], {
      encoding: 'utf8', env: { ...env, LC_ALL: 'C' } as NodeJS.ProcessEnv, maxBuffer: 64 << 20,
    })
    if (r.status !== 0 || !existsSync(join(work, KO_NAME))) {
      o.onFailureOutput?.(`${r.stdout ?? ''}${r.stderr ?? ''}`)
      const why = r.error ? r.error.message : `make exited with status ${r.status}`
      throw new KprobecovError('EKMODBUILD', `kprobecov.ko did not build against ${tree.kdir} (${why}; the compiler's output is above): check that the headers match the kernel and that its compiler is installed`)
    }
    rmSync(final, { recursive: true, force: true })
    renameSync(work, final)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return { ko, release: tree.release, cached: false }
}
