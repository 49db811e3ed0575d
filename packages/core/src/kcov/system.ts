/**
 * What the running kernel says for the KCOV backend: whether it has KCOV,
 * its KASLR offset (KCOV subtracts it from every PC it records, module
 * code included), and where each section of a loaded module is
 * (/sys/module/<m>/sections/<section>, root only). Every function takes
 * the roots of /sys and /proc (SystemPaths) so that unit tests can point
 * them at FAKE trees.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { errnoError, errnoMessage, errnoName, KprobecovError } from '../errors.ts'
import { normaliseModuleName, type SystemPaths } from '../device/system.ts'

export const DEFAULT_KCOV = '/sys/kernel/debug/kcov'

const sysRoot = (o: SystemPaths): string => o.sys ?? '/sys'
const procRoot = (o: SystemPaths): string => o.proc ?? '/proc'

/** Whether the KCOV file is there (the kernel has CONFIG_KCOV and debugfs is mounted). */
export function kcovPresent(path: string = DEFAULT_KCOV): boolean {
  return existsSync(path)
}

/** The error for a failed open of KCOV, naming the fix. */
export function kcovOpenError(errno: number, path: string, paths: SystemPaths = {}): KprobecovError {
  const name = errnoName(errno)
  const options = { errno: Math.abs(errno) }
  if (name === 'ENOENT') {
    const debugfs = join(sysRoot(paths), 'kernel/debug')
    let mounted = false
    try {
      mounted = readFileSync(join(procRoot(paths), 'mounts'), 'utf8').split('\n').some((l) => l.split(' ')[1] === debugfs)
    } catch {
      // no /proc/mounts: say what is most likely
    }
    return new KprobecovError('ENOKCOV_KERNEL', mounted || path !== DEFAULT_KCOV
      ? `${path} is missing: this kernel has no KCOV (CONFIG_KCOV is not set): use backend 'kprobe' (kprobecov.ko), or a kernel built with CONFIG_KCOV=y`
      : `${path} is missing: mount debugfs (sudo mount -t debugfs none /sys/kernel/debug), or use backend 'kprobe'`, options)
  }
  if (name === 'EACCES' || name === 'EPERM') {
    return new KprobecovError('EACCES', `${path}: permission denied: KCOV is for root (debugfs): run as root`, options)
  }
  return errnoError(errno, `cannot open ${path}: ${errnoMessage(errno)}`)
}

/** The kernel's configuration, from /proc/config.gz or /boot/config-<release>; undefined if neither is readable. */
export function kernelConfig(paths: SystemPaths & { boot?: string } = {}): string | undefined {
  try {
    return gunzipSync(readFileSync(join(procRoot(paths), 'config.gz'))).toString('utf8')
  } catch {
    // not built with CONFIG_IKCONFIG_PROC
  }
  try {
    return readFileSync(join(paths.boot ?? '/boot', `config-${release()}`), 'utf8')
  } catch {
    return undefined
  }
}

/** x86-64's __START_KERNEL_map. */
const START_KERNEL_MAP = 0xffffffff80000000n

/**
 * The KASLR offset KCOV subtracts from PCs (kernel/kcov.c canonicalize_ip:
 * `ip -= kaslr_offset()` with CONFIG_RANDOMIZE_BASE): where `_text` is now
 * (/proc/kallsyms, root) minus where the kernel was linked to put it
 * (__START_KERNEL: 0xffffffff80000000 + CONFIG_PHYSICAL_START aligned to
 * CONFIG_PHYSICAL_ALIGN, from the kernel's config; x86-64's defaults
 * 0x1000000 and 0x200000 without one). 0 for a kernel whose config says it
 * has no KASLR. Throws KprobecovError EACCES when kallsyms hides addresses.
 */
export function kaslrOffset(paths: SystemPaths & { boot?: string; config?: string | null } = {}): bigint {
  const config = paths.config === null ? undefined : (paths.config ?? kernelConfig(paths))
  const option = (name: string): string | undefined => config?.match(new RegExp(`^CONFIG_${name}=(.*)$`, 'm'))?.[1]
  if (config !== undefined && option('RANDOMIZE_BASE') !== 'y') return 0n
  const start = BigInt(option('PHYSICAL_START') ?? '0x1000000')
  const align = BigInt(option('PHYSICAL_ALIGN') ?? '0x200000')
  const linked = START_KERNEL_MAP + ((start + align - 1n) / align) * align
  const text = kallsymsAddress('_text', paths)
  if (text === undefined || text === 0n) {
    throw new KprobecovError('EACCES', `cannot read the kernel's KASLR offset (_text in ${join(procRoot(paths), 'kallsyms')} is hidden): run as root, or boot with nokaslr`)
  }
  return text - linked
}

/**
 * The address of a symbol in /proc/kallsyms, read in chunks until found
 * (`_text` is among the first lines: the file is in address order).
 */
export function kallsymsAddress(symbol: string, paths: SystemPaths = {}): bigint | undefined {
  let fd: number
  try {
    fd = openSync(join(procRoot(paths), 'kallsyms'), 'r')
  } catch {
    return undefined
  }
  try {
    const chunk = Buffer.alloc(1 << 16)
    let rest = ''
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null)
      const text = rest + chunk.toString('latin1', 0, n)
      const lines = text.split('\n')
      rest = n === 0 ? '' : (lines.pop() ?? '')
      for (const line of lines) {
        const [addr, , name] = line.split(/\s+/)
        if (name === symbol && addr !== undefined) return BigInt(`0x${addr}`)
      }
      if (n === 0) return undefined
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * Where the given sections of a loaded module are: section name → address,
 * for the sections sysfs lists; undefined when the module is not loaded.
 * Throws KprobecovError EACCES when the addresses are hidden (not root).
 */
export function moduleSectionBases(module: string, sections: readonly string[], paths: SystemPaths = {}): Map<string, bigint> | undefined {
  const dir = join(sysRoot(paths), 'module', normaliseModuleName(module))
  if (!existsSync(join(dir, 'initstate'))) return undefined
  const bases = new Map<string, bigint>()
  for (const name of sections) {
    let text: string
    try {
      text = readFileSync(join(dir, 'sections', name), 'utf8').trim()
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EACCES' || code === 'EPERM') {
        throw new KprobecovError('EACCES', `${join(dir, 'sections', name)}: permission denied: the KCOV backend reads where modules are loaded, which is for root: run as root`)
      }
      continue // a section the kernel did not keep (or did not load)
    }
    const addr = /^0x[0-9a-f]+$/i.test(text) ? BigInt(text) : 0n
    if (addr === 0n) {
      throw new KprobecovError('EACCES', `${join(dir, 'sections', name)} hides the address (${text}): run as root`)
    }
    bases.set(name, addr)
  }
  return bases
}

/**
 * Which load of a module this is: the inode of /sys/module/<module>/initstate,
 * which sysfs makes anew for each load (a module loaded again at the same address
 * gets another); undefined when it is not loaded.
 */
export function moduleLoadId(module: string, paths: SystemPaths = {}): bigint | undefined {
  try {
    return statSync(join(sysRoot(paths), 'module', normaliseModuleName(module), 'initstate'), { bigint: true }).ino
  } catch {
    return undefined
  }
}
