/**
 * The one error type of @kprobecov/core for failures a user can cause or fix:
 * a missing device, missing permissions, a kernel without kprobes, a module
 * that is not loaded or not the one the debug info was read from, a .ko
 * without debug info, a native library that was not built, a collector used
 * out of order. `code` is stable and machine-readable; `message` is ONE line
 * that says what is wrong and how to fix it.
 */
import { getSystemErrorMessage, getSystemErrorName } from 'node:util'

/**
 * Codes with a meaning of their own. Other failures of a system call or an
 * ioctl carry the errno name (`EBUSY`, `ESRCH`, `ENOSPC`, ...).
 */
export type KprobecovErrorCode =
  /** /dev/kprobecov is missing: the module is not loaded (or has no device node). */
  | 'ENODEV'
  /** Not permitted: the device, or attaching to another user's process / globally. */
  | 'EACCES'
  /** The kernel has no kprobes (CONFIG_KPROBES unset) or they are switched off. */
  | 'ENOKPROBES'
  /** The module to measure is not loaded. */
  | 'EMODULE_NOT_LOADED'
  /** The module is built into the kernel: there is no .ko to read. */
  | 'EMODULE_BUILTIN'
  /** The debug info was read from another build than the loaded module (or kernel). */
  | 'EBUILDID'
  /** The object has no DWARF debug info. */
  | 'ENODATA'
  /** A file (object, debug file, module) does not exist. */
  | 'ENOENT'
  /** A separate debug file does not belong to the object. */
  | 'ESTALE'
  /** Not an x86-64 ELF object. */
  | 'ENOEXEC'
  /** libkprobecov.so is missing or cannot be loaded. */
  | 'ENOLIB'
  /** kprobecov.ko and this package speak different ABI versions (or a corrupt blob/area). */
  | 'EABI'
  /** The collector was closed, or not initialised yet. */
  | 'ECLOSED'
  | 'EBADFD'
  /** A test worker did not inherit its runner's collector. */
  | 'ENOCOLLECTOR'
  /** A test worker's probes were not armed: its runner's process ended first, or took too long (see testrun/armed.ts). */
  | 'ENOTARMED'
  /** The kernel has no KCOV (CONFIG_KCOV unset, or debugfs not mounted). */
  | 'ENOKCOV_KERNEL'
  /** A module has no KCOV instrumentation (no __sanitizer_cov_trace_pc calls). */
  | 'ENOKCOV'
  /** The sources of kprobecov.ko (@kprobecov/kmod) are missing. */
  | 'ENOKMODSRC'
  /** kprobecov.ko cannot be built: no kernel headers, no make or compiler, a compile error. */
  | 'EKMODBUILD'
  /** The kernel refused to load kprobecov.ko, or it cannot be unloaded. */
  | 'EKMODLOAD'
  /** kprobecov vm: no such kernel (version, release or image), or its packages are missing. */
  | 'ENOKERNEL'
  /** kprobecov vm: a program it needs (QEMU, busybox-static, apt-get, ...) is not installed. */
  | 'ENOPROGRAM'
  /** kprobecov vm: a --build directory or a --load module failed. */
  | 'EVMMODULE'
  /** kprobecov vm: the guest's kernel reported a bug, crashed, or ran out of memory. */
  | 'EKERNELREPORT'
  /** kprobecov vm: --timeout ran out (the message names the phase). */
  | 'ETIMEDOUT'

export class KprobecovError extends Error {
  override name = 'KprobecovError'
  /** A KprobecovErrorCode, or the errno name of a failed system call. */
  readonly code: KprobecovErrorCode | (string & {})
  /** The positive errno of the failed system call, if one failed. */
  readonly errno: number | undefined

  constructor(
    code: KprobecovErrorCode | (string & {}),
    message: string,
    options: { errno?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.errno = options.errno
  }
}

/** 'ENOENT' for 2 or -2; 'E<n>' for an errno Node does not know. */
export function errnoName(errno: number): string {
  const neg = -Math.abs(errno)
  try {
    return getSystemErrorName(neg)
  } catch {
    return `E${Math.abs(errno)}`
  }
}

/** The system's description of an errno (either sign), e.g. "no such file or directory". */
export function errnoMessage(errno: number): string {
  const neg = -Math.abs(errno)
  try {
    return getSystemErrorMessage(neg)
  } catch {
    return `error ${Math.abs(errno)}`
  }
}

/** A KprobecovError named after an errno (either sign), with a one-line message. */
export function errnoError(errno: number, message: string, cause?: unknown): KprobecovError {
  const options: { errno: number; cause?: unknown } = { errno: Math.abs(errno) }
  if (cause !== undefined) options.cause = cause
  return new KprobecovError(errnoName(errno), message, options)
}
