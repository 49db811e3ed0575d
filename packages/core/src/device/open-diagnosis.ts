/**
 * Why the device would not open, or speaks another ABI, said as the fix: the
 * module not loaded, a kernel without kprobes, a node missing under /dev,
 * permissions; which side of an ABI mismatch to update. Reads /sys and
 * /proc (SystemPaths) to tell the cases apart.
 */
import { KprobecovError, errnoError, errnoMessage, errnoName } from '../errors.ts'
import { ABI_VERSION } from '../native/abi.ts'
import { version } from '../version.ts'
import { kprobesState, moduleLoaded, type SystemPaths } from './system.ts'

/**
 * The error for a failed open of the device, naming the fix: load the
 * module (ENODEV), a kernel without kprobes (ENOKPROBES), a node missing
 * although the module is loaded (ENODEV), permissions (EACCES).
 */
export function deviceOpenError(errno: number, path: string, paths: SystemPaths = {}): KprobecovError {
  const name = errnoName(errno)
  const options = { errno: Math.abs(errno) }
  if (name === 'ENOENT' || name === 'ENODEV' || name === 'ENXIO') {
    if (moduleLoaded('kprobecov', paths)) {
      return new KprobecovError(
        'ENODEV',
        `${path} is missing although kprobecov is loaded: mount devtmpfs on /dev, or create the node (sudo mknod ${path} c $(tr : ' ' </sys/class/misc/kprobecov/dev))`,
        options,
      )
    }
    if (kprobesState(paths) === 'absent') {
      return new KprobecovError(
        'ENOKPROBES',
        `this kernel has no kprobes (register_kprobe is not in /proc/kallsyms: CONFIG_KPROBES is not set): kprobecov needs a kernel built with CONFIG_KPROBES=y`,
        options,
      )
    }
    return new KprobecovError(
      'ENODEV',
      `${path} is missing: load the module: sudo npx kprobecov module load`,
      options,
    )
  }
  if (name === 'EACCES' || name === 'EPERM') {
    return new KprobecovError(
      'EACCES',
      `${path}: permission denied: run as root, or load kprobecov with dev_mode=0660 and give the device to your group with a udev rule (see README)`,
      options,
    )
  }
  return errnoError(errno, `cannot open ${path}: ${errnoMessage(errno)}`)
}

/**
 * The loaded module and this package speak different ABIs: the message says
 * which side is older, hence which one to update.
 */
export function abiMismatch(moduleAbi: number): KprobecovError {
  return new KprobecovError('EABI', moduleAbi < ABI_VERSION
    ? `the loaded kprobecov.ko is older (ABI ${moduleAbi}) than @kprobecov/core ${version} (ABI ${ABI_VERSION}): replace it with this version's: sudo npx kprobecov module load --reload`
    : `the loaded kprobecov.ko is newer (ABI ${moduleAbi}) than @kprobecov/core ${version} (ABI ${ABI_VERSION}): update the @kprobecov packages to the module's version (modinfo -F version kprobecov), or load this version's module: sudo npx kprobecov module load --reload`)
}
