/**
 * The debug info of a target to measure: a module's .ko, or vmlinux (built-in
 * code), checked to be that target, with a vmlinux's paths relative to its
 * kernel tree. Every failure is one line naming the fix.
 */
import { release as runningRelease } from 'node:os'
import type { DebugInfo } from '../debuginfo/types.ts'
import { relativeToKernelTree } from '../debuginfo/kernel-tree.ts'
import { VMLINUX, vmlinuxFix } from '../device/vmlinux.ts'
import { KprobecovError } from '../errors.ts'
import { OPTIONS_NAMING, type Naming } from '../naming.ts'
import { loadDebugInfo } from './debuginfo.ts'

/**
 * Reads `object` as the target `name` ('vmlinux' or a module's name, '_'
 * for '-'). `release` (default the running kernel's) names the debug
 * package in the fix for a vmlinux without debug info; `naming` says how
 * the caller's user gives an object.
 */
export function loadTargetDebugInfo(
  name: string, object: string, release: string = runningRelease(), naming: Naming = OPTIONS_NAMING,
): DebugInfo {
  if (name !== VMLINUX) {
    const di = loadDebugInfo(object)
    if (di.moduleName === '') {
      throw new KprobecovError('EINVAL', `${object} is a vmlinux, not the module ${name}: measure built-in code as vmlinux (with sources or functions globs), or give the .ko of ${name}`)
    }
    if (di.moduleName !== name) {
      throw new KprobecovError('EINVAL', `${object} is the module ${di.moduleName}, not ${name}: ${naming.useModule(di.moduleName, object)}, or the .ko of ${name}`)
    }
    return di
  }
  let di: DebugInfo
  try {
    di = loadDebugInfo(object)
  } catch (e) {
    if (!(e instanceof KprobecovError)) throw e
    if (e.code === 'ENODATA') throw new KprobecovError('ENODATA', `${object} has no debug info: ${vmlinuxFix(release, naming)}`, { cause: e })
    if (e.code === 'ENOEXEC') {
      throw new KprobecovError('ENOEXEC', `${object} is not a vmlinux (an x86-64 ELF kernel; a compressed vmlinuz or bzImage will not do): ${vmlinuxFix(release, naming)}`, { cause: e })
    }
    throw e
  }
  if (di.moduleName !== '') {
    throw new KprobecovError('EINVAL', `${object} is the module ${di.moduleName}, not vmlinux: ${naming.useModule(di.moduleName, object)}, or the vmlinux of the kernel`)
  }
  return relativeToKernelTree(di)
}
