/**
 * Numbers of the two binary interfaces this package reads and writes:
 * the kernel ABI (kmod/include/uapi/linux/kprobecov.h) and the debug-info
 * blob of libkprobecov (native/include/libkprobecov.h). Byte offsets and
 * sizes are those of the C structs on x86-64 (checked against offsetof()
 * when written); the headers are the reference, this file only mirrors them.
 */
import type { ProbeKind } from '../plan/types.ts'

export const ABI_VERSION = 1
export const MODULE_LEN = 56
export const SYMBOL_LEN = 128
export const MAX_BATCH = 65536
export const MAX_EDGE_BITS = 24
/** KPROBECOV_INIT_CALLERS: record callers of function probes. */
export const KPROBECOV_INIT_CALLERS = 1n
/** KPROBECOV_ALL_SLOTS (~0ULL), as the 64-bit value the kernel sees. */
export const ALL_SLOTS = 0xffff_ffff_ffff_ffffn

/** enum kprobecov_kind */
export const Kind = { FUNC: 1, LINE: 2, BRANCH: 3 } as const
/** A plan's probe kind as enum kprobecov_kind. */
export const KIND_OF = { function: Kind.FUNC, line: Kind.LINE, branch: Kind.BRANCH } as const satisfies Record<ProbeKind, number>
const KIND_NAME: Record<number, ProbeKind> = { [Kind.FUNC]: 'function', [Kind.LINE]: 'line', [Kind.BRANCH]: 'branch' }
/** enum kprobecov_scope */
export const Scope = { THREAD: 1, PROCESS: 2, TREE: 3, GLOBAL: 4 } as const
/** enum kprobecov_select_how */
export const Select = { ALL: 1, RANGE: 2, GROUP: 3 } as const
/** KPROBECOV_SLOT_* */
export const SlotState = { FREE: 0, ATTACHED: 1, DETACHED: 2 } as const

/** KPROBECOV_STATE_* bits of a probe's state; bits 8..15 hold its kind. */
export const ProbeState = {
  REGISTERED: 1 << 0,
  ARMED: 1 << 1,
  PENDING: 1 << 2,
  GONE: 1 << 3,
  FAILED: 1 << 4,
  HIT: 1 << 5,
  KIND_SHIFT: 8,
} as const

/** A probe kind as the bits it has in a probe's state (ProbeState). */
export const kindStateBits = (kind: ProbeKind): number => KIND_OF[kind] << ProbeState.KIND_SHIFT

/** The kind in a probe state (ProbeState bits), undefined if none. */
export function probeKindOfState(state: number): ProbeKind | undefined {
  return KIND_NAME[(state >>> ProbeState.KIND_SHIFT) & 0xff]
}

/** struct kprobecov_version */
export const VERSION_SIZE = 64
/** struct kprobecov_area_header (u64 fields; byte offsets) */
export const AreaHeader = {
  SIZE: 256,
  magic: 0,
  abi: 8,
  max_probes: 16,
  max_slots: 24,
  edge_bits: 32,
  trace_entries: 40,
  nr_probes: 48,
  new_events: 56,
  new_events_seen: 64,
} as const
export const AREA_MAGIC = 0x766f63626f72706bn
/** struct kprobecov_slot_stats (u64 fields) */
export const SlotStats = {
  SIZE: 64,
  state: 0,
  sample_id: 8,
  scope: 16,
  tasks: 24,
  new_coverage: 32,
  edges: 40,
  lost_tasks: 48,
} as const
/** struct kprobecov_probe */
export const Probe = {
  SIZE: 216,
  module: 0,
  symbol: 56,
  offset: 184,
  kind: 192,
  group: 196,
  error: 200,
  state: 204,
  address: 208,
} as const
/** struct kprobecov_add_probes (u64 fields) */
export const AddProbes = {
  SIZE: 64,
  probes: 0,
  count: 8,
  first_index: 24,
  registered: 32,
  pending: 40,
  failed: 48,
} as const
/** struct kprobecov_probe_status: u32 state, s32 error */
export const PROBE_STATUS_SIZE = 8
/** struct kprobecov_caller */
export const Caller = { SIZE: 144, address: 0, calls: 8, symbol: 16 } as const

// ---- libkprobecov's debug-info blob ----------------------------------------

/** The bytes "kpcdinfo" as a little-endian u64. */
export const BLOB_MAGIC = 0x6f666e696463706bn
export const BLOB_VERSION = 1
export const BLOB_NONE = 0xffffffff

/** kpc_debuginfo_load() flags */
export const DI_NO_BRANCHES = 1 << 0
export const DI_NO_INLINES = 1 << 1

/** struct kpc_blob_header */
export const BlobHeader = {
  SIZE: 280,
  magic: 0,
  version: 8,
  header_size: 12,
  blob_size: 16,
  flags: 24,
  elf_type: 28,
  elf_machine: 32,
  path: 36,
  debug_path: 40,
  module_name: 44,
  srcversion: 48,
  vermagic: 52,
  mod_version: 56,
  build_id_size: 60,
  build_id: 64,
  BUILD_ID_MAX: 64,
  nr_bad_insns: 128,
  nr_dwarfless: 132,
  /** struct kpc_blob_table: u64 offset, u32 count, u32 entry_size */
  strings: 136,
  files: 152,
  sections: 168,
  functions: 184,
  lines: 200,
  branches: 216,
  inlines: 232,
  block_starts: 248,
  kcov_sites: 264,
} as const
/** struct kpc_blob_kcov_site */
export const BlobKcovSite = { SIZE: 24, section_offset: 0, section: 8, function: 12, offset: 16, kind: 20, cmp_type: 22 } as const
export const KcovSiteKind = { PC: 1, CMP: 2, SWITCH: 3, CALL: 4 } as const

/** struct kpc_kcov_stats */
export const KcovStats = { SIZE: 64, threads: 0, records: 8, in_ranges: 16, overflows: 24, max_fill: 32 } as const
/** struct kpc_kcov_cmp */
export const KcovCmp = { SIZE: 40, type: 0, arg1: 8, arg2: 16, pc: 24, count: 32 } as const
export const KCOV_TRACE_PC = 0
export const KCOV_TRACE_CMP = 1
/** KCOV_CMP_CONST and KCOV_CMP_SIZE(n) of linux/kcov.h */
export const KCOV_CMP_CONST = 1
export const KCOV_CMP_SIZE_SHIFT = 1

/** struct kpc_blob_block_start */
export const BlobBlockStart = { SIZE: 8, function: 0, offset: 4, kind: 8, from: 12 } as const
/** struct kpc_blob_block_start.kind (entries of 12 bytes or more) */
export const BlockStartKind = { JUMP_TARGET: 1, AFTER_END: 2, AFTER_INDIRECT: 3 } as const
/** struct kpc_blob_block_start.from of an AFTER_END start (blobs with HAS_FLOW) */
export const BlockEnd = { JUMP: 1, LEAVE: 2, TRAP: 3 } as const
/** struct kpc_blob_block_start.from of a JUMP_TARGET start: the jmp is in the function's other piece */
export const BS_FROM_OTHER = 0x80000000
export const BlobFlag = {
  REL: 1 << 0,
  SPLIT_DEBUG: 1 << 1,
  NO_CODE: 1 << 2,
  HAS_BRANCHES: 1 << 3,
  HAS_INLINES: 1 << 4,
  HAS_FLOW: 1 << 5,
} as const
export const ET_EXEC = 2

/** struct kpc_blob_section */
export const BlobSection = { SIZE: 32, name: 0, flags: 4, size: 16 } as const
export const SecFlag = { NOBITS: 1 << 0, INIT: 1 << 1, EXIT: 1 << 2 } as const

/** struct kpc_blob_function */
export const BlobFunction = {
  SIZE: 72,
  name: 0,
  source_name: 4,
  section: 8,
  flags: 12,
  offset: 16,
  size: 24,
  decl_file: 32,
  decl_line: 36,
  alias_of: 40,
  parent: 44,
  first_line: 48,
  nr_lines: 52,
  first_branch: 56,
  nr_branches: 60,
} as const
export const FnFlag = {
  GLOBAL: 1 << 0,
  WEAK: 1 << 1,
  ALIAS: 1 << 2,
  CLONE: 1 << 3,
  COLD: 1 << 4,
  DECLARED_INLINE: 1 << 5,
  NO_DWARF: 1 << 6,
  AMBIGUOUS: 1 << 7,
} as const

/** struct kpc_blob_line */
export const BlobLine = {
  SIZE: 32,
  section_offset: 0,
  section: 8,
  function: 12,
  function_offset: 16,
  file: 20,
  line: 24,
  flags: 30,
} as const
export const LINE_STMT = 1 << 0
export const LINE_MARKER = 1 << 3

/** struct kpc_blob_successor, inside struct kpc_blob_branch */
export const BlobSuccessor = { function: 0, offset: 4, file: 12, line: 24 } as const
/** struct kpc_blob_branch */
export const BlobBranch = {
  SIZE: 88,
  function: 0,
  offset: 4,
  file: 8,
  line: 12,
  mnemonic: 16,
  taken: 24,
  fallthrough: 56,
} as const
