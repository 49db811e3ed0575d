/**
 * The ffi-rs binding to libkprobecov.so (native/include/libkprobecov.h): one
 * function per C function, same name in camelCase, same arguments, the
 * same return value (0 / a count, or -errno). No policy here: the Collector
 * and loadDebugInfo turn return values into results and errors.
 *
 * Type mapping: int / uint32_t -> number; uint64_t and every pointer the
 * caller keeps (the mmap'd area, a blob to free) -> bigint; output
 * arguments and arrays -> a Uint8Array the C side writes into in place;
 * strings -> string.
 *
 * The library is found once, on first use: $KPROBECOV_NATIVE_LIB, else, in
 * a checkout of kprobecov (this file not inside node_modules),
 * build/native/libkprobecov.so in the nearest directory above this file that
 * has one, else the platform package @kprobecov/native-<platform>.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve, sep } from 'node:path'
import { DataType, load, open } from 'ffi-rs'
import { KprobecovError } from '../errors.ts'

const LIB = 'libkprobecov'
const LIBC = 'libkprobecov:libc'
const LIB_FILE = 'libkprobecov.so'
/** The platforms a package @kprobecov/native-<platform> exists for. */
export const NATIVE_PLATFORMS: readonly string[] = ['linux-x64-gnu']

/** This machine's platform as the native packages name it: linux-x64-gnu, linux-arm64-musl, ... */
export function nativePlatform(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  const libc = process.platform !== 'linux' ? '' : header?.glibcVersionRuntime ? '-gnu' : '-musl'
  return `${process.platform}-${process.arch}${libc}`
}

/** The directory of the installed platform package, or undefined. */
function platformPackageDir(platform: string, from: string): string | undefined {
  try {
    return dirname(createRequire(join(from, 'noop.js')).resolve(`@kprobecov/native-${platform}/package.json`))
  } catch {
    return undefined
  }
}

/**
 * Where libkprobecov.so is (see the top of this file). `from` is the
 * directory to search from (this file's). Throws KprobecovError 'ENOLIB'
 * naming the fix.
 */
export function locateNativeLibrary(
  env: NodeJS.ProcessEnv = process.env,
  from: string = import.meta.dirname,
  platform: string = nativePlatform(),
): string {
  const fromEnv = env.KPROBECOV_NATIVE_LIB
  if (fromEnv !== undefined && fromEnv !== '') {
    const path = resolve(fromEnv)
    if (!existsSync(path)) {
      throw new KprobecovError('ENOLIB', `KPROBECOV_NATIVE_LIB=${fromEnv} does not exist: unset it to use the library of @kprobecov/native-${platform}`)
    }
    return path
  }
  const start = resolve(from)
  if (!start.split(sep).includes('node_modules')) {
    for (let dir = start; ; dir = dirname(dir)) {
      const path = join(dir, 'build', 'native', LIB_FILE)
      if (existsSync(path)) return path
      if (dirname(dir) === dir) break
    }
  }
  const pkg = `@kprobecov/native-${platform}`
  if (!NATIVE_PLATFORMS.includes(platform)) {
    throw new KprobecovError('ENOLIB', `kprobecov has no native library for ${platform} (it has for ${NATIVE_PLATFORMS.join(', ')}): use one of those machines`)
  }
  const dir = platformPackageDir(platform, start)
  if (dir === undefined) {
    throw new KprobecovError('ENOLIB', `${pkg} is not installed (it is an optional dependency of @kprobecov/core): install again without --omit=optional / --no-optional, or add ${pkg} to your devDependencies`)
  }
  const path = join(dir, LIB_FILE)
  if (!existsSync(path)) {
    throw new KprobecovError('ENOLIB', `${pkg} in ${dir} holds no ${LIB_FILE}: reinstall it (in a checkout of kprobecov: make -C native)`)
  }
  return path
}

let libraryPath: string | undefined

/** Opens libkprobecov.so (and libc) once; returns the path it was opened from. */
export function openNativeLibrary(): string {
  if (libraryPath !== undefined) return libraryPath
  const path = locateNativeLibrary()
  try {
    open({ library: LIB, path })
    open({ library: LIBC, path: '' })
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause)
    throw new KprobecovError('ENOLIB', `cannot load ${path} (${why.split('\n')[0]}): reinstall @kprobecov/core (in a checkout of kprobecov: make -C native)`, {
      cause,
    })
  }
  libraryPath = path
  return path
}

type Out = Uint8Array

function call(funcName: string, retType: DataType, paramsType: DataType[], paramsValue: unknown[]): unknown {
  openNativeLibrary()
  return load({ library: LIB, funcName, retType, paramsType, paramsValue })
}
function inPool(funcName: string, paramsType: DataType[], paramsValue: unknown[]): Promise<number> {
  openNativeLibrary()
  return load({ library: LIB, funcName, retType: DataType.I32, paramsType, paramsValue, runInNewThread: true }) as Promise<number>
}
const int = (f: string, types: DataType[], values: unknown[]) => call(f, DataType.I32, types, values) as number
const i64 = (f: string, types: DataType[], values: unknown[]) => call(f, DataType.I64, types, values) as number

const { I32, U32, BigInt: U64, String: Str, U8Array: Buf } = DataType

// ---- device: one function per ioctl ----------------------------------------

export const kpcDevOpen = (path: string): number => int('kpc_dev_open', [Str], [path])
export const kpcDevClose = (fd: number): number => int('kpc_dev_close', [I32], [fd])
/** on: 1 clears FD_CLOEXEC (exec'd processes inherit the fd), 0 sets it. */
export const kpcDevInherit = (fd: number, on: number): number => int('kpc_dev_inherit', [I32, I32], [fd, on])
/** A new fd (O_CLOEXEC) of the same open file. */
export const kpcDevDup = (fd: number): number => int('kpc_dev_dup', [I32], [fd])
/** out: struct kprobecov_version (64 bytes) */
export const kpcDevVersion = (fd: number, out: Out): number => int('kpc_dev_version', [I32, Buf], [fd, out])
/** areaBytes: one u64 (8 bytes) */
export const kpcDevInit = (
  fd: number,
  maxProbes: bigint,
  maxSlots: bigint,
  edgeBits: bigint,
  traceEntries: bigint,
  flags: bigint,
  areaBytes: Out,
): number =>
  int('kpc_dev_init', [I32, U64, U64, U64, U64, U64, Buf], [fd, maxProbes, maxSlots, edgeBits, traceEntries, flags, areaBytes])
/** area: one u64 (8 bytes) receiving the address of the mapping */
export const kpcDevMap = (fd: number, areaBytes: bigint, area: Out): number =>
  int('kpc_dev_map', [I32, U64, Buf], [fd, areaBytes, area])
export const kpcDevUnmap = (area: bigint, areaBytes: bigint): number =>
  int('kpc_dev_unmap', [U64, U64], [area, areaBytes])
/** specs: struct kprobecov_probe[count]; out: struct kprobecov_add_probes (64 bytes) */
export const kpcDevAddProbes = (fd: number, specs: Out, count: bigint, out: Out): number =>
  int('kpc_dev_add_probes', [I32, Buf, U64, Buf], [fd, specs, count, out])
/** changed: one u64 */
export const kpcDevArm = (fd: number, how: number, group: number, first: bigint, count: bigint, changed: Out): number =>
  int('kpc_dev_arm', [I32, U32, U32, U64, U64, Buf], [fd, how, group, first, count, changed])
/**
 * kpcDevAddProbes and kpcDevArm on a thread of libuv's pool (ffi-rs
 * runInNewThread): the kernel's kprobe registration takes seconds under
 * emulation, and the caller's event loop goes on meanwhile. The buffers are
 * passed by address (the kernel writes into them in place): the caller keeps
 * them referenced until the promise settles.
 */
export const kpcDevAddProbesInPool = (fd: number, specs: Out, count: bigint, out: Out): Promise<number> =>
  inPool('kpc_dev_add_probes', [I32, Buf, U64, Buf], [fd, specs, count, out])
export const kpcDevArmInPool = (fd: number, how: number, group: number, first: bigint, count: bigint, changed: Out): Promise<number> =>
  inPool('kpc_dev_arm', [I32, U32, U32, U64, U64, Buf], [fd, how, group, first, count, changed])
export const kpcDevDisarm = (
  fd: number,
  how: number,
  group: number,
  first: bigint,
  count: bigint,
  changed: Out,
): number => int('kpc_dev_disarm', [I32, U32, U32, U64, U64, Buf], [fd, how, group, first, count, changed])
/** slot: one u64 */
export const kpcDevAttach = (fd: number, pid: bigint, scope: number, sampleId: bigint, slot: Out): number =>
  int('kpc_dev_attach', [I32, U64, U32, U64, Buf], [fd, pid, scope, sampleId, slot])
export const kpcDevDetach = (fd: number, slot: bigint): number => int('kpc_dev_detach', [I32, U64], [fd, slot])
export const kpcDevReset = (fd: number, slot: bigint): number => int('kpc_dev_reset', [I32, U64], [fd, slot])
export const kpcDevRelease = (fd: number, slot: bigint): number => int('kpc_dev_release', [I32, U64], [fd, slot])
/** out: struct kprobecov_probe_status[count] (8 bytes each) */
export const kpcDevProbeStatus = (fd: number, first: bigint, count: bigint, out: Out): number =>
  int('kpc_dev_probe_status', [I32, U64, U64, Buf], [fd, first, count, out])
/** index: one u64 */
export const kpcDevNextUnhit = (fd: number, from: bigint, kinds: bigint, skip: bigint, index: Out): number =>
  int('kpc_dev_next_unhit', [I32, U64, U64, U64, Buf], [fd, from, kinds, skip, index])
/** out: struct kprobecov_caller[capacity] (at least 1 element: ffi-rs passes no NULL); count, overflow: one u64 each */
export const kpcDevCallers = (fd: number, probe: bigint, out: Out, capacity: bigint, count: Out, overflow: Out): number =>
  int('kpc_dev_callers', [I32, U64, Buf, U64, Buf, Buf], [fd, probe, out, capacity, count, overflow])
export const kpcDevTraceStart = (fd: number, tid: bigint): number => int('kpc_dev_trace_start', [I32, U64], [fd, tid])
export const kpcDevTraceStop = (fd: number): number => int('kpc_dev_trace_stop', [I32], [fd])
export const kpcDevPoll = (fd: number, timeoutMs: number): number => int('kpc_dev_poll', [I32, I32], [fd, timeoutMs])

// ---- the mmap'd area: `area` is the address kpcDevMap returned --------------

export const kpcAreaCheck = (area: bigint, areaBytes: bigint): number =>
  int('kpc_area_check', [U64, U64], [area, areaBytes])
/** out: struct kprobecov_area_header (256 bytes) */
export const kpcAreaHeader = (area: bigint, out: Out): number => int('kpc_area_header', [U64, Buf], [area, out])
/** out: u64[n] */
export const kpcAreaReadSlot = (area: bigint, slot: bigint, out: Out, n: bigint): number =>
  i64('kpc_area_read_slot', [U64, U64, Buf, U64], [area, slot, out, n])
/** index: u32[capacity], counts: u64[capacity] */
export const kpcAreaReadSlotNonzero = (area: bigint, slot: bigint, index: Out, counts: Out, capacity: bigint): number =>
  i64('kpc_area_read_slot_nonzero', [U64, U64, Buf, Buf, U64], [area, slot, index, counts, capacity])
/** out: u64[nwords] */
export const kpcAreaReadHits = (area: bigint, out: Out, nwords: bigint): number =>
  i64('kpc_area_read_hits', [U64, Buf, U64], [area, out, nwords])
/** out: struct kprobecov_slot_stats[count] (64 bytes each) */
export const kpcAreaReadSlotStats = (area: bigint, first: bigint, count: bigint, out: Out): number =>
  int('kpc_area_read_slot_stats', [U64, U64, U64, Buf], [area, first, count, out])
/** out: u32[n] */
export const kpcAreaReadEdges = (area: bigint, slot: bigint, out: Out, n: bigint): number =>
  i64('kpc_area_read_edges', [U64, U64, Buf, U64], [area, slot, out, n])
/** out: u64[nwords] */
export const kpcAreaReadEdgeBitmap = (area: bigint, out: Out, nwords: bigint): number =>
  i64('kpc_area_read_edge_bitmap', [U64, Buf, U64], [area, out, nwords])
/** out: u64[n] */
export const kpcAreaReadTrace = (area: bigint, out: Out, n: bigint): number =>
  i64('kpc_area_read_trace', [U64, Buf, U64], [area, out, n])
export const kpcAreaTraceReset = (area: bigint): number => int('kpc_area_trace_reset', [U64], [area])
/** events: one u64 */
export const kpcAreaAck = (area: bigint, events: Out): number => int('kpc_area_ack', [U64, Buf], [area, events])

// ---- KCOV: `set` is the address kpcKcovSetNew wrote --------------------------

/** out: one u64 receiving the set's address */
export const kpcKcovSetNew = (path: string, mode: number, out: Out): number =>
  int('kpc_kcov_set_new', [Str, U32, Buf], [path, mode, out])
export const kpcKcovSetEnable = (set: bigint, words: bigint): number =>
  int('kpc_kcov_set_enable', [U64, U64], [set, words])
/**
 * Runs on a thread of libuv's pool (ffi-rs runInNewThread) and resolves with
 * kpc_kcov_set_enable_barrier's return value.
 */
export const kpcKcovSetEnableBarrierInPool = (set: bigint, words: bigint, n: number, timeoutMs: number): Promise<number> => {
  openNativeLibrary()
  return load({
    library: LIB, funcName: 'kpc_kcov_set_enable_barrier', retType: DataType.I32,
    paramsType: [U64, U64, U32, U32], paramsValue: [set, words, n, timeoutMs], runInNewThread: true,
  }) as Promise<number>
}
export const kpcKcovSetDisable = (set: bigint): number => int('kpc_kcov_set_disable', [U64], [set])
/** ranges: u64[2 * nranges] (at least 2) */
export const kpcKcovSetDrainer = (set: bigint, ranges: Out, nranges: number, intervalMs: number): number =>
  int('kpc_kcov_set_drainer', [U64, Buf, U32, U32], [set, ranges, nranges, intervalMs])
/** ranges: u64[2 * nranges] (at least 2); stats: struct kpc_kcov_stats (64 bytes) */
export const kpcKcovSetDrain = (set: bigint, ranges: Out, nranges: number, stats: Out): number =>
  i64('kpc_kcov_set_drain', [U64, Buf, U32, Buf], [set, ranges, nranges, stats])
/** pcs, counts: u64[capacity] (at least 1) */
export const kpcKcovSetTakePcs = (set: bigint, pcs: Out, counts: Out, capacity: bigint): number =>
  i64('kpc_kcov_set_take_pcs', [U64, Buf, Buf, U64], [set, pcs, counts, capacity])
/** out: struct kpc_kcov_cmp[capacity] (40 bytes each, at least 1) */
export const kpcKcovSetTakeCmps = (set: bigint, out: Out, capacity: bigint): number =>
  i64('kpc_kcov_set_take_cmps', [U64, Buf, U64], [set, out, capacity])
/** enabled, threads: one u64 each */
export const kpcKcovSetInfo = (set: bigint, enabled: Out, threads: Out): number =>
  int('kpc_kcov_set_info', [U64, Buf, Buf], [set, enabled, threads])
export const kpcKcovSetFree = (set: bigint): void => {
  call('kpc_kcov_set_free', DataType.Void, [U64], [set])
}

// ---- debug info --------------------------------------------------------------

/** blob: one u64 receiving the malloc'd blob's address; len: one u64 */
export const kpcDebuginfoLoad = (path: string, flags: number, blob: Out, len: Out): number =>
  int('kpc_debuginfo_load', [Str, U32, Buf, Buf], [path, flags, blob, len])
export const kpcDebuginfoLoadSplit = (path: string, debugPath: string, flags: number, blob: Out, len: Out): number =>
  int('kpc_debuginfo_load_split', [Str, Str, U32, Buf, Buf], [path, debugPath, flags, blob, len])
export const kpcFree = (ptr: bigint): void => {
  call('kpc_free', DataType.Void, [U64], [ptr])
}
export const kpcLastError = (): string => call('kpc_last_error', DataType.String, [], []) as string

// ---- libc -------------------------------------------------------------------

/** memcpy(dst, src, n): copies n bytes at address src (e.g. a blob) into dst. */
export const memcpyFrom = (dst: Out, src: bigint, n: number): void => {
  openNativeLibrary()
  load({ library: LIBC, funcName: 'memcpy', retType: DataType.Void, paramsType: [Buf, U64, DataType.U64], paramsValue: [dst, src, n] })
}
