/**
 * Debian kernels from apt's lists: resolving a series to a release, and the
 * fetch of a release, once, into the cache:
 *
 *   <cache>/debian-kernel/<release>/
 *     boot/vmlinuz-R, boot/vmlinux-R  the package's bzImage; the ELF kernel inside (booted)
 *     lib/modules/R/                  the modules with depmod's indexes; build -> the KDIR
 *     usr/src/linux-headers-R/        the kbuild tree (KDIR); its Makefile names this
 *                                     entry's trees instead of /usr/src's
 *     kernel.env                      KVER, KERNEL_IMAGE, KERNEL_MODULES, KDIR (sh syntax)
 *
 * Packages: linux-image-R-unsigned (image and modules), linux-headers-R and
 * what it depends on of linux-headers-* / linux-kbuild-*, fetched with
 * `apt-get download` (no root: nothing is installed) and unpacked with
 * `dpkg-deb -x`. The entry is made in a temporary directory and renamed into
 * place once a module built against it says vermagic R, so an entry is always
 * whole; two fetches of one release at once both work, the second rename
 * loses and its copy is dropped. The layout is scripts/debian-kernel.sh's.
 *
 * Decisions: nothing is installed with sudo and apt's lists are not
 * refreshed behind the user's back: a missing package or tool is one line
 * naming the `apt-get` command. AptSource takes apt options (-o ...) so that
 * another suite (private lists of unstable) is another AptSource.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { extractVmlinux } from './image.ts'
import type { KernelSource } from './kernel.ts'
import { findProgram } from '../module/programs.ts'
import { runSync, type Deadline } from './phases.ts'

export interface KernelEntry {
  release: string
  /** The image to boot. */
  image: string
  /** The directory holding lib/modules/<release>, undefined: none (virtio-pci and 9p built in). */
  modules: string | undefined
  /** The kbuild tree. */
  kdir: string
}

export class AptSource implements KernelSource {
  readonly name = "apt's lists"
  readonly moreHint = 'add an apt source that has it (6.12 on Debian 12: bookworm-backports) and run sudo apt-get update'
  readonly aptOptions: readonly string[]
  private readonly memoFile: string | undefined
  private memo: Record<string, string> | undefined
  /**
   * aptOptions: e.g. -o Dir::Etc::SourceList=... -o Dir::State::Lists=... for another suite.
   * memoFile: answers kept between runs while apt's lists are unchanged: an apt-cache
   * call costs 1-3 s, a cached run should not pay it.
   */
  constructor(aptOptions: readonly string[] = [], memoFile?: string) {
    this.aptOptions = aptOptions
    this.memoFile = memoFile
  }

  private remember(key: string, answer: () => string | undefined): string | undefined {
    // apt-get update renames new lists into their directory: its mtime changes.
    const lists = this.aptOptions.map((o) => /^Dir::State::Lists=(.+)$/.exec(o)?.[1]).find((d) => d !== undefined) ?? '/var/lib/apt/lists'
    let stamp: string
    try {
      stamp = `${this.aptOptions.join(' ')}|${statSync(lists).mtimeMs}`
    } catch {
      return answer()
    }
    if (this.memo === undefined) {
      try {
        const m = JSON.parse(readFileSync(this.memoFile ?? '', 'utf8')) as Record<string, string>
        this.memo = m.stamp === stamp ? m : { stamp }
      } catch {
        this.memo = { stamp }
      }
    }
    if (key in this.memo) return this.memo[key] || undefined
    const a = answer()
    this.memo[key] = a ?? ''
    if (this.memoFile !== undefined) {
      try {
        mkdirSync(dirname(this.memoFile), { recursive: true })
        writeFileSync(`${this.memoFile}.${process.pid}`, JSON.stringify(this.memo))
        renameSync(`${this.memoFile}.${process.pid}`, this.memoFile)
      } catch {
        // a read-only cache: no memo
      }
    }
    return a
  }

  private aptCache(args: string[]): string {
    const r = spawnSync('apt-cache', [...this.aptOptions, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new KprobecovError('ENOPROGRAM', "apt-cache is not installed: kprobecov vm fetches Debian's kernels with apt (Debian or Ubuntu), or give --kernel PATH of a kernel image")
    }
    return r.status === 0 ? r.stdout : ''
  }

  /** The packages `pkg` depends on (the first of each alternative). */
  depends(pkg: string): string[] {
    return [...this.aptCache(['depends', '--no-recommends', '--no-suggests', pkg]).matchAll(/^ *\|?Depends: ([^ <>\n]+)$/gm)].map((m) => m[1]!)
  }

  seriesRelease(series: string): string | undefined {
    return this.remember(`series ${series}`, () => this.lookupSeries(series))
  }

  private lookupSeries(series: string): string | undefined {
    for (const meta of [`linux-image-${series}-amd64`, 'linux-image-amd64']) {
      const r = this.depends(meta).map((d) => /^linux-image-(.*-amd64)$/.exec(d)?.[1]).find((d) => d !== undefined)
      if (r?.startsWith(`${series}.`)) return r
    }
    return undefined
  }

  defaultRelease(): string | undefined {
    return this.remember('default', () => this.depends('linux-image-amd64').map((d) => /^linux-image-(.*-amd64)$/.exec(d)?.[1]).find((d) => d !== undefined))
  }

  hasRelease(release: string): boolean {
    return this.remember(`release ${release}`, () => this.aptCache(['show', `linux-image-${release}-unsigned`]).includes('Package:') ? 'yes' : undefined) === 'yes'
  }

  series(): string[] {
    const s = new Set<string>()
    for (const m of this.aptCache(['pkgnames', 'linux-image-']).matchAll(/^linux-image-(\d+\.\d+)[.-]\S*-amd64-unsigned$/gm)) s.add(m[1]!)
    return [...s].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  }
}

export const entryDir = (cache: string, release: string): string => join(cache, 'debian-kernel', release)

function entryOf(dir: string, release: string): KernelEntry {
  return { release, image: join(dir, 'boot', `vmlinux-${release}`), modules: dir, kdir: join(dir, 'usr/src', `linux-headers-${release}`) }
}

/** The entry of a release if the cache has it whole. */
export function cachedKernel(cache: string, release: string): KernelEntry | undefined {
  const dir = entryDir(cache, release)
  return existsSync(join(dir, 'kernel.env')) ? entryOf(dir, release) : undefined
}

const installed = (pkg: string): boolean => {
  const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', pkg], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim() === 'installed'
}

/** The vermagic's release of a .ko (its .modinfo "vermagic=R ..."). */
export function koVermagic(ko: string): string | undefined {
  return /vermagic=(\S+)/.exec(readFileSync(ko).toString('latin1'))?.[1]
}

export interface FetchOptions {
  cache: string
  source: AptSource
  deadline: Deadline
  log: (line: string) => void
}

/** The cached entry of `release`, fetched first when the cache has none. */
export function debianKernel(release: string, o: FetchOptions): KernelEntry {
  const cached = cachedKernel(o.cache, release)
  if (cached) return cached
  const { source, deadline } = o
  const phase = 'fetch' as const
  const image = `linux-image-${release}-unsigned`
  const headers = `linux-headers-${release}`
  if (!source.hasRelease(release)) throw new KprobecovError('ENOKERNEL', `${source.name} have no ${image}: ${source.moreHint}`)
  if (source.depends(headers).length === 0) {
    throw new KprobecovError('ENOKERNEL', `${source.name} have no headers package ${headers} for kernel ${release}: ${source.moreHint} (security updates replace a release: give its series instead)`)
  }
  // The headers' -common tree and kbuild; what they run on the host must be installed.
  const parts = source.depends(headers).filter((d) => /^linux-(headers|kbuild)-/.test(d))
  const kbuild = parts.find((p) => p.startsWith('linux-kbuild-'))
  const hostDeps = [...new Set([...source.depends(headers), ...(kbuild ? source.depends(kbuild) : [])].filter((d) => !d.startsWith('linux-')))]
  const missing = ['make', 'xz-utils', 'zstd', 'kmod', ...hostDeps].filter((p) => !installed(p))
  if (missing.length > 0) {
    throw new KprobecovError('ENOPROGRAM', `building modules for ${release} needs ${missing.join(', ')}: sudo apt-get install ${missing.join(' ')}`)
  }
  const base = join(o.cache, 'debian-kernel')
  mkdirSync(base, { recursive: true })
  const tmp = mkdtempSync(join(base, 'fetch.'))
  try {
    const pkgs = [image, headers, ...parts]
    o.log(`kprobecov vm: fetching Debian kernel ${release} (${pkgs.join(', ')}) into ${entryDir(o.cache, release)}; once`)
    // apt-get download shows its progress ("Get:1 ... [62.1 MB]") on our stderr.
    // As root, apt would drop to its _apt user, which cannot write here, and warn about it.
    const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : []
    const dl = runSync('apt-get', [...source.aptOptions, ...sandbox, 'download', ...pkgs], { phase, deadline, cwd: tmp, show: true, pkg: 'apt' })
    const tree = join(tmp, 'tree')
    for (const p of pkgs) {
      const deb = readdirSync(tmp).find((f) => f.startsWith(`${p}_`) && f.endsWith('.deb'))
      if (deb === undefined) throw new KprobecovError('ENOKERNEL', `apt-get download ${p} failed (status ${dl.status}, above): run sudo apt-get update (a security update may have replaced ${release}: give its series)`)
      const x = runSync('dpkg-deb', ['-x', join(tmp, deb), tree], { phase, deadline, pkg: 'dpkg' })
      if (x.status !== 0) throw new KprobecovError('ENOKERNEL', `dpkg-deb -x ${deb} failed: ${x.stderr.trim()}`)
    }
    const entry = entryDir(o.cache, release)
    const bz = join(tree, 'boot', `vmlinuz-${release}`)
    if (!existsSync(bz)) throw new KprobecovError('ENOKERNEL', `${image} holds no boot/vmlinuz-${release}: give another release`)
    const kdir = join(tree, 'usr/src', `linux-headers-${release}`)
    const makefile = join(kdir, 'Makefile')
    writeFileSync(makefile, readFileSync(makefile, 'utf8').replaceAll('/usr/src/', `${entry}/usr/src/`))
    extractVmlinux(bz, join(tree, 'boot', `vmlinux-${release}`), deadline)
    // The package's postinst would run depmod; modprobe in the guest needs its indexes.
    const dep = runSync(findProgram('depmod') ?? 'depmod', ['-b', tree, release], { phase, deadline, pkg: 'kmod' })
    if (dep.status !== 0) throw new KprobecovError('ENOKERNEL', `depmod failed for ${release}: ${dep.stderr.trim()}`)
    // The image package's own build link names /usr/src's tree.
    const build = join(tree, 'lib/modules', release, 'build')
    rmSync(build, { force: true })
    symlinkSync(join(entry, 'usr/src', `linux-headers-${release}`), build)
    // Checked at its final path (the Makefile names it): a module built against it.
    const staged = `${entry}.new-${process.pid}`
    rmSync(staged, { recursive: true, force: true })
    renameSync(tree, staged)
    checkTree(entry, staged, release, tmp, deadline)
    writeFileSync(join(staged, 'kernel.env'), `KVER=${release}\nKERNEL_IMAGE=${entryOf(entry, release).image}\nKERNEL_MODULES=${entry}\nKDIR=${entryOf(entry, release).kdir}\n`)
    try {
      renameSync(staged, entry)
    } catch {
      rmSync(staged, { recursive: true, force: true }) // another fetch was first
    }
    if (!existsSync(join(entry, 'kernel.env'))) throw new KprobecovError('ENOKERNEL', `${entry} is incomplete: remove it and run again`)
    o.log(`kprobecov vm: Debian kernel ${release} is in the cache`)
    return entryOf(entry, release)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * Builds a tiny module against the staged tree, which sits at `staged` while
 * its Makefile names `entry`: the entry path is a symlink to it meanwhile.
 */
function checkTree(entry: string, staged: string, release: string, tmp: string, deadline: Deadline): void {
  const check = join(tmp, 'check')
  mkdirSync(check)
  writeFileSync(join(check, 'kpc_check.c'), '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n')
  writeFileSync(join(check, 'Kbuild'), 'obj-m := kpc_check.o\n')
  const link = !existsSync(entry)
  if (link) symlinkSync(staged, entry)
  try {
    const r = runSync('make', ['-s', '-C', join(entry, 'usr/src', `linux-headers-${release}`), `M=${check}`, 'modules'], { phase: 'fetch', deadline, env: { ...process.env, LC_ALL: 'C' } })
    if (r.status !== 0) {
      process.stderr.write(r.stdout + r.stderr)
      throw new KprobecovError('ENOKERNEL', `a module does not build against the headers of ${release} (compiler output above): install the compiler they name (sudo apt-get install ${`linux-headers-${release}`} shows it)`)
    }
    const magic = koVermagic(join(check, 'kpc_check.ko'))
    if (magic !== release) throw new KprobecovError('ENOKERNEL', `a module built against the headers of ${release} says vermagic ${magic}: remove ${staged} and report it`)
  } finally {
    if (link) rmSync(entry, { force: true })
  }
}
