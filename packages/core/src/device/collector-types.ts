/**
 * What a Collector takes and gives (see collector.ts): its limits and sizes,
 * probe specs, selections, attach options and what it reads back. Plain data;
 * ABI numbers are in native/abi.ts.
 */
import type { ProbeKind } from '../plan/types.ts'

export const DEFAULT_DEVICE = '/dev/kprobecov'

export type AttachScope = 'thread' | 'process' | 'tree' | 'global'

/** The module's limits (its parameters), from KPROBECOV_GET_VERSION. */
export interface CollectorLimits {
  abi: number
  maxProbes: number
  maxSlots: number
  maxAreaBytes: number
  maxTasks: number
  maxCallers: number
}

export interface InitOptions {
  /** Capacity of the probe table (>= 1). */
  maxProbes: number
  /** Attribution slots, i.e. test files attached at the same time; default 64. */
  maxSlots?: number
  /** log2 of AFL-style edge counters per slot; default 0 (none). */
  edgeBits?: number
  /** Capacity of the ordered trace (traceStart); default 0 (none). */
  traceEntries?: number
  /**
   * Record the distinct callers of function probes (callers()); default false.
   * It costs a stack read and a table scan on every counted call.
   */
  callers?: boolean
}

export interface ProbeSpec {
  /** Module name as lsmod shows it; 'vmlinux' (or '') for built-in code. */
  module: string
  /** ELF symbol of the function (static ones too). */
  symbol: string
  /** Bytes from the symbol; 0 for kind 'function'. */
  offset: number
  kind: ProbeKind
  /** Caller-chosen group (usually the function's index); arm/disarm act on groups. */
  group: number
  /** Needs CAP_SYSLOG (kallsyms' rule): the address of symbol + offset from /proc/kallsyms (saves a lookup). */
  address?: bigint
}

export interface AddProbesResult {
  /** Index of the first probe of this call; the others follow in order. */
  firstIndex: number
  count: number
  /** Probes planted now. */
  registered: number
  /** Probes waiting for their module to load. */
  pending: number
  /** Probes that failed (see error). */
  failed: number
  /** Per probe of this call: ProbeState bits, with the kind in bits 8..15. */
  state: Uint32Array
  /** Per probe: 0 or the kernel's -errno (-ENOENT unknown symbol, -ERANGE past its end,
   * -EILSEQ not an instruction boundary, -EINVAL not probe-able, ...). */
  error: Int32Array
}

/** Which probes arm()/disarm() act on. */
export type ProbeSelection = 'all' | { first: number; count: number } | { group: number }

export interface AttachOptions {
  /** Thread id (scope 'thread') or any thread of the process; default 0: the caller. */
  pid?: number
  scope: AttachScope
  /** Any 64-bit value; shown in slotStats(). */
  sampleId: bigint
}

export interface SlotStats {
  state: 'free' | 'attached' | 'detached'
  sampleId: bigint
  scope: AttachScope | undefined
  /** Tasks attributed to the slot now. */
  tasks: number
  /** Probes and edges this slot hit first in the collector. */
  newCoverage: number
  /** Distinct edge buckets hit. */
  edges: number
  /** Forks not followed because max_tasks was reached. */
  lostTasks: number
}

export interface ProbeStatuses {
  /** ProbeState bits, with the kind in bits 8..15. */
  state: Uint32Array
  /** 0 or -errno of the last registration attempt. */
  error: Int32Array
}

export interface NextUnhitOptions {
  from?: number
  /** Kinds to look for; default any. */
  kinds?: ProbeKind[]
  /** Matches to pass over. */
  skip?: number
}

export interface CallerEntry {
  /** Return address; 0n unless the opener may see kernel addresses (CAP_SYSLOG, kptr_restrict). */
  address: bigint
  calls: bigint
  /** "func+0x1a/0x40 [module]" */
  symbol: string
}

export interface Callers {
  callers: CallerEntry[]
  /** Callers recorded; more than callers.length only if the kernel's list grew meanwhile. */
  count: number
  /** Calls from callers beyond the module's max_callers. */
  overflow: bigint
}

export interface Trace {
  /** Entries the kernel wrote since traceStart (may exceed the capacity). */
  written: number
  /** Probe indices in hit order (at most traceEntries). */
  probes: Uint32Array
}
