/**
 * Built-in kernel code: where the vmlinux with debug info of a kernel release
 * is installed, and the fix a user needs when there is none. A distribution
 * ships it in a debug package: Debian's linux-image-R-dbg and Ubuntu's
 * linux-image-R-dbgsym put it in /usr/lib/debug/boot/vmlinux-R, Fedora's
 * kernel-debuginfo in /usr/lib/debug/lib/modules/R/vmlinux; a kernel built
 * here leaves it in its build tree (/lib/modules/R/build) or next to the
 * image in /boot.
 */
import { release as runningRelease } from 'node:os'
import { join } from 'node:path'
import { hasDwarf } from '../debuginfo/elf.ts'
import { KprobecovError } from '../errors.ts'
import { OPTIONS_NAMING, type Naming } from '../naming.ts'

/** The target name of built-in code. */
export const VMLINUX = 'vmlinux'

/** How to get a vmlinux with debug info for kernel `release`, in the caller's naming. */
export function vmlinuxFix(release: string, naming: Naming = OPTIONS_NAMING): string {
  return `install linux-image-${release}-dbg (Debian) or ${naming.givePath(VMLINUX)}`
}

export interface VmlinuxOptions {
  /** Kernel release; default the running one (uname -r). */
  release?: string
  /** Root of the file system the debug packages are installed in; default /. */
  fsRoot?: string
  /** How the fix names the path (default OPTIONS_NAMING). */
  naming?: Naming
}

/** Where a vmlinux of kernel `release` may be, in the order they are tried. */
export function vmlinuxCandidates(release: string, fsRoot = '/'): string[] {
  return [
    `usr/lib/debug/boot/vmlinux-${release}`,
    `usr/lib/debug/lib/modules/${release}/vmlinux`,
    `lib/modules/${release}/build/vmlinux`,
    `boot/vmlinux-${release}`,
  ].map((p) => join(fsRoot, p))
}

/**
 * The first candidate that exists and has DWARF. Throws KprobecovError
 * ENOENT naming the debug package to install when there is none.
 */
export function vmlinuxObjectPath(options: VmlinuxOptions = {}): string {
  const release = options.release ?? runningRelease()
  const found = vmlinuxCandidates(release, options.fsRoot).find(hasDwarf)
  if (found !== undefined) return found
  throw new KprobecovError('ENOENT', `no vmlinux with debug info for kernel ${release}: ${vmlinuxFix(release, options.naming)}`)
}
