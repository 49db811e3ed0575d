/**
 * Probe specs as the kernel reads them: a batch of struct kprobecov_probe
 * for KPROBECOV_ADD_PROBES (names NUL-terminated in fixed fields, kinds as
 * enum kprobecov_kind), checked on the way (EINVAL naming the probe).
 */
import { KprobecovError } from '../errors.ts'
import { AddProbes, KIND_OF, Kind, MODULE_LEN, Probe, SYMBOL_LEN } from '../native/abi.ts'
import { nonNegativeInt } from './bytes.ts'
import type { AddProbesResult, ProbeSpec } from './collector-types.ts'

const utf8 = new TextEncoder()

/** Writes a NUL-terminated UTF-8 name into a fixed-size field. */
function writeName(buf: Uint8Array, at: number, name: string, size: number, what: string, mayBeEmpty: boolean): void {
  if (typeof name !== 'string' || (!mayBeEmpty && name === '')) {
    throw new KprobecovError('EINVAL', `${what} must be a non-empty string`)
  }
  const { written, read } = utf8.encodeInto(name, buf.subarray(at, at + size - 1))
  if (read !== name.length || name.includes('\0')) {
    throw new KprobecovError('EINVAL', `${what} is longer than ${size - 1} bytes (or holds a NUL)`)
  }
  buf[at + written] = 0
}

export interface Batch {
  /** struct kprobecov_probe[count]; the kernel writes each one's state and error. */
  buf: Uint8Array
  /** struct kprobecov_add_probes */
  out: BigUint64Array
  start: number
  count: number
}

export function newAddResult(firstIndex: number, n: number): AddProbesResult {
  return { firstIndex, count: 0, registered: 0, pending: 0, failed: 0, state: new Uint32Array(n), error: new Int32Array(n) }
}

/** specs[start .. start + count) as the kernel's struct kprobecov_probe array. Throws EINVAL for a bad spec. */
export function encodeBatch(specs: readonly ProbeSpec[], start: number, count: number): Batch {
  const buf = new Uint8Array(count * Probe.SIZE)
  const dv = new DataView(buf.buffer)
  for (let i = 0; i < count; i++) {
    const spec = specs[start + i] as ProbeSpec
    const at = i * Probe.SIZE
    const where = `addProbes: probe ${start + i} (${spec.module}:${spec.symbol}+${spec.offset})`
    writeName(buf, at + Probe.module, spec.module, MODULE_LEN, `${where}: module name`, true)
    writeName(buf, at + Probe.symbol, spec.symbol, SYMBOL_LEN, `${where}: symbol`, false)
    const kind = KIND_OF[spec.kind]
    if (kind === undefined) throw new KprobecovError('EINVAL', `${where}: kind must be function, line or branch, not ${String(spec.kind)}`)
    nonNegativeInt(`${where}: offset`, spec.offset)
    if (kind === Kind.FUNC && spec.offset !== 0) {
      throw new KprobecovError('EINVAL', `${where}: a function probe has offset 0 (use kind 'line' for other offsets)`)
    }
    if (!Number.isInteger(spec.group) || spec.group < 0 || spec.group > 0xffffffff) {
      throw new KprobecovError('EINVAL', `${where}: group must be a 32-bit unsigned integer, not ${spec.group}`)
    }
    dv.setBigUint64(at + Probe.offset, BigInt(spec.offset), true)
    dv.setUint32(at + Probe.kind, kind, true)
    dv.setUint32(at + Probe.group, spec.group, true)
    if (spec.address !== undefined) dv.setBigUint64(at + Probe.address, BigInt.asUintN(64, spec.address), true)
  }
  return { buf, out: new BigUint64Array(AddProbes.SIZE / 8), start, count }
}
