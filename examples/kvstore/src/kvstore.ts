/**
 * A client for /dev/kvstore (driver/kvstore.c), for the example test suites.
 *
 * Commands go to the driver as write()s and the dump comes back by pread(),
 * both through node:fs, so a refusal surfaces as Node's own error: `.code`
 * is the errno name ('EINVAL', 'ENOENT', ...). The ioctls (driver/kvstore_ioctl.h)
 * go through libc's ioctl() with ffi-rs and throw an Error with the same
 * `.code`, `.errno` (negative, as Node's) and `.syscall` ('ioctl').
 *
 * No method checks its arguments: whatever the driver refuses, the test sees
 * the driver refuse.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { constants } from 'node:os'
import { DataType, load, open } from 'ffi-rs'

// ---- driver/kvstore_ioctl.h ------------------------------------------------

export const KEY_SIZE = 32
export const VALUE_SIZE = 128
const GET_SIZE = KEY_SIZE + VALUE_SIZE // struct kvstore_get
const STATS_SIZE = 6 * 8 // struct kvstore_stats: entries, capacity, sets, gets, misses, deletes

// _IOC(dir, 'k', nr, size) of <asm-generic/ioctl.h>: dir 1 write, 2 read.
const ioc = (dir: number, nr: number, size: number): number =>
  ((dir << 30) >>> 0) + (size << 16) + (0x6b << 8) + nr

export const KVSTORE_IOC_GET = ioc(3, 1, GET_SIZE) // 0xc0a06b01
export const KVSTORE_IOC_STATS = ioc(2, 2, STATS_SIZE) // 0x80306b02
export const KVSTORE_IOC_RESET_STATS = ioc(0, 3, 0) // 0x6b03

export interface KvStoreStats {
  entries: number
  capacity: number
  sets: number
  gets: number
  misses: number
  deletes: number
}

/** An Error as Node's fs functions throw them: code 'ENOENT', errno -2. */
export interface KvStoreError extends Error {
  code: string
  errno: number
  syscall: string
}

// ---- libc ioctl() ----------------------------------------------------------

const LIBC = 'kvstore:libc'
let libcOpen = false

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]))

function errnoError(errno: number, what: string, message: string): KvStoreError {
  const code = errnoNames.get(errno) ?? `E${errno}`
  const err = new Error(`${code}: ${message.replace(/ \(os error \d+\)$/, '')}, ${what}`) as KvStoreError
  err.code = code
  err.errno = -errno
  err.syscall = 'ioctl'
  return err
}

/**
 * ioctl(fd, request, arg): arg is a buffer the kernel reads and writes in
 * place, or a bigint passed as the argument itself (0, or an address).
 * Returns ioctl's non-negative result; throws a KvStoreError on -1.
 */
export function ioctl(fd: number, request: number, arg: Uint8Array | bigint): number {
  if (!libcOpen) {
    open({ library: LIBC, path: '' })
    libcOpen = true
  }
  const { value, errnoCode, errnoMessage } = load({
    library: LIBC,
    funcName: 'ioctl',
    retType: DataType.I32,
    paramsType: [DataType.I32, DataType.U64, typeof arg === 'bigint' ? DataType.BigInt : DataType.U8Array],
    paramsValue: [fd, request, arg],
    errno: true as const,
  })
  if (value < 0) {
    throw errnoError(errnoCode, `ioctl 0x${request.toString(16)}`, errnoMessage)
  }
  return value
}

// ---- the client --------------------------------------------------------------

export class KvStore {
  readonly path: string
  #fd: number

  /** Use KvStore.open(). */
  constructor(fd: number, path: string) {
    this.#fd = fd
    this.path = path
  }

  /** Opens the device read-write; throws Node's error (ENOENT: the module is not loaded). */
  static open(path: string = '/dev/kvstore'): KvStore {
    return new KvStore(openSync(path, 'r+'), path)
  }

  /** The open file descriptor, for raw writes and ioctls. */
  get fd(): number {
    if (this.#fd < 0) {
      throw errnoError(constants.errno.EBADF, this.path, 'the KvStore is closed')
    }
    return this.#fd
  }

  /** Writes one command ("set k v", ...) as one write(); returns the bytes written. */
  command(line: string | Uint8Array): number {
    return typeof line === 'string' ? writeSync(this.fd, line) : writeSync(this.fd, line)
  }

  set(key: string, value: string): void {
    this.command(`set ${key} ${value}\n`)
  }

  del(key: string): void {
    this.command(`del ${key}\n`)
  }

  clear(): void {
    this.command('clear\n')
  }

  /** The whole dump as text ("KEY=VALUE\n" lines, insertion order), read from offset 0. */
  dumpText(): string {
    const chunks: Buffer[] = []
    const chunk = Buffer.alloc(64 * 1024)
    let position = 0
    for (;;) {
      const n = readSync(this.fd, chunk, 0, chunk.length, position)
      if (n === 0) break
      chunks.push(Buffer.from(chunk.subarray(0, n)))
      position += n
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  /** The store as an object; its keys are in insertion order unless they look like integers. */
  dump(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const line of this.dumpText().split('\n')) {
      if (line === '') continue
      const eq = line.indexOf('=')
      out[line.slice(0, eq)] = line.slice(eq + 1)
    }
    return out
  }

  /** KVSTORE_IOC_GET. A key of more than KEY_SIZE bytes is cut to KEY_SIZE (the driver says E2BIG). */
  get(key: string): string {
    const buf = new Uint8Array(GET_SIZE)
    const bytes = Buffer.from(key, 'utf8')
    buf.set(bytes.subarray(0, KEY_SIZE))
    ioctl(this.fd, KVSTORE_IOC_GET, buf)
    const value = buf.subarray(KEY_SIZE)
    const end = value.indexOf(0)
    return Buffer.from(value.subarray(0, end < 0 ? value.length : end)).toString('utf8')
  }

  /** KVSTORE_IOC_STATS. */
  stats(): KvStoreStats {
    const buf = new Uint8Array(STATS_SIZE)
    ioctl(this.fd, KVSTORE_IOC_STATS, buf)
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    const u64 = (i: number): number => Number(view.getBigUint64(i * 8, true))
    return { entries: u64(0), capacity: u64(1), sets: u64(2), gets: u64(3), misses: u64(4), deletes: u64(5) }
  }

  /** KVSTORE_IOC_RESET_STATS. */
  resetStats(): void {
    ioctl(this.fd, KVSTORE_IOC_RESET_STATS, 0n)
  }

  /** Closes the device; a second close does nothing. */
  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    this.#fd = -1
    closeSync(fd)
  }
}
