/** Small conversions between JS values and the buffers libkprobecov's calls read and write. */
import { KprobecovError } from '../errors.ts'

export const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
export const u64Out = (): BigUint64Array => new BigUint64Array(1)
export const first = (a: BigUint64Array): bigint => a[0] ?? 0n
export const utf8d = new TextDecoder('utf-8')

/** Fits a JS number (counts and sizes from the kernel). */
export function num(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER
  return Number(v)
}

export function nonNegativeInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new KprobecovError('EINVAL', `${name} must be a non-negative integer, not ${v}`)
  }
}
