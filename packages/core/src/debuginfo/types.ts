/**
 * Debug information of one kernel object (.ko or vmlinux), as read by
 * native/ (libkprobecov's kpc_debuginfo_load) and parsed from its blob.
 * Indices point into the arrays of the same DebugInfo. Offsets are bytes;
 * `offset` fields of functions, lines and branch successors are relative to
 * the FUNCTION SYMBOL, which is what the kernel probe ABI takes.
 */
export interface DebugInfo {
  /** The file read, as the caller spelled it. */
  path: string
  /** What the kernel calls the module (`.modinfo` name=), '' for vmlinux. */
  moduleName: string
  /** Hex of NT_GNU_BUILD_ID, '' if none; compare with /sys/module/<m>/notes. */
  buildId: string
  srcversion: string
  vermagic: string
  /** Whether branch discovery ran (false: branches is empty by request or no code). */
  hasBranches: boolean
  /**
   * Absolute, normalised source paths; index 0 is the unknown file ''. A
   * vmlinux read for measuring has those of its kernel tree relative to it
   * (kernel/sys.c: relativeToKernelTree).
   */
  files: string[]
  sections: DebugSection[]
  functions: DebugFunction[]
  /** Sorted by (section, sectionOffset). */
  lines: DebugLine[]
  branches: DebugBranch[]
  /**
   * Optional: calls of KCOV's callbacks (an object built with
   * -fsanitize-coverage, as a kernel with CONFIG_KCOV builds), sorted by
   * (section, sectionOffset); absent or empty without instrumentation.
   */
  kcovSites?: KcovSite[]
}

/**
 * A call of a KCOV callback. KCOV records its return address (sectionOffset
 * from the section's load address); the call itself is the byte before it.
 */
export interface KcovSite {
  section: number
  /** Of the return address, from the section start. */
  sectionOffset: number
  /** The function holding the call (a primary), undefined outside any. */
  function?: number
  /** Return address - the function's symbol. */
  offset: number
  /**
   * trace_pc (coverage), cmp (comparison operands), switch, or call: any
   * other call, whose return address KCOV records when the callee's last
   * block tail-calls a callback.
   */
  kind: 'pc' | 'cmp' | 'switch' | 'call'
  /** cmp: KCOV_CMP_SIZE(log2 bytes) | KCOV_CMP_CONST, as KCOV records the type. */
  cmpType: number
}

export interface DebugSection {
  name: string
  /** .init.text*: freed after module_init. */
  init: boolean
  /** .exit.text*: only runs on unload. */
  exit: boolean
  size: number
}

export interface DebugFunction {
  /** The ELF symbol: what kprobes take (e.g. `foo.constprop.0`, `foo.cold`). */
  symbol: string
  /** The source function's name (DWARF), e.g. `foo`. */
  name: string
  section: number
  /** Symbol value: bytes from the section start. */
  sectionOffset: number
  size: number
  /** files index of the definition, 0 if unknown. */
  declFile: number
  declLine: number
  global: boolean
  /** An alias of another function's code (e.g. init_module): index of the primary. */
  aliasOf?: number
  /** A split-off cold part: index of the function it came from. */
  parent?: number
  /** No DWARF subprogram covers it (no lines). */
  noDwarf: boolean
  /** Another function of the object has the same symbol name (kprobes would take the first). */
  ambiguous: boolean
  /**
   * Optional (planning uses it when present): offsets from the symbol, sorted,
   * where a basic block starts besides the entry and the successors in
   * `branches`: targets of unconditional jumps and the instruction after an
   * unconditional jump, return or trap. Without it, a block ends only where a
   * conditional branch or its successor is.
   */
  blockStarts?: number[]
  /**
   * Optional (blobs that say why a block starts): which of blockStarts are
   * targets of direct jumps (sorted), which follow a jump, return or trap
   * (no fall-in; sorted), and whether the function jumps through a register
   * or a table (to places not known). Absent: not known.
   */
  blockKinds?: {
    jumpTargets: number[]
    afterEnds: number[]
    indirectJumps: boolean
    /**
     * Optional (blobs with the control flow): [target, offset of the jmp] of
     * every direct jmp to a jumpTargets offset, the jmp's offset from this
     * function's symbol, or with 'other' from the symbol of its other piece
     * (the cold part, for a target in the function; the function, for a target
     * in its cold part); -1: not known.
     */
    jumps?: Array<[target: number, from: number, where?: 'other']>
    /** Optional (as jumps): afterEnds whose code before leaves the function (ret, a tail jmp). */
    leaves?: number[]
  }
  /** Ranges into lines / branches. */
  firstLine: number
  nrLines: number
  firstBranch: number
  nrBranches: number
}

export interface DebugLine {
  section: number
  sectionOffset: number
  /** functions index, or undefined outside any function. */
  function?: number
  /** Bytes from the function symbol: the probe offset. */
  offset: number
  file: number
  /** 1-based; 0: compiler-generated code without a line. */
  line: number
  isStmt: boolean
  /**
   * Optional: a statement row covering no code, of a line that has code
   * elsewhere in the function: where the statement stood (a BUG() moved to a
   * cold path, a sunk initialiser), not its code. Planning decides whether it
   * proves its line (see plan/lines.ts).
   */
  marker?: boolean
}

export interface DebugBranch {
  function: number
  /** Offset of the conditional jump from the function symbol. */
  offset: number
  file: number
  line: number
  mnemonic: string
  taken: BranchSuccessor
  fallthrough: BranchSuccessor
}

export interface BranchSuccessor {
  /** functions index, undefined when the target is outside this object. */
  function?: number
  /** Bytes from that function's symbol. */
  offset: number
  file: number
  line: number
}
