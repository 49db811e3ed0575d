/**
 * A probe plan: what to plant in the kernel and what each probe proves.
 * It is the denominator of coverage, kept apart from the hits: probe i of
 * the plan is probe i of the collector (the order of KPROBECOV_ADD_PROBES),
 * and every counter maps to exactly one planned probe.
 */
import type { Granularity } from '../defaults.ts'

export type { Granularity }

/** What the user asks for, per module. */
export interface ModuleTarget {
  /** Module name as lsmod shows it, or 'vmlinux'. */
  name: string
  /** The .ko with debug info; default: found with modinfo / under /lib/modules. */
  object?: string
  /** Default 'branch' (lines and branches; 'line': no branch probes). */
  granularity?: Granularity
  /** vmlinux only: keep functions whose source path matches one of these globs. */
  sources?: string[]
  /** vmlinux only: keep functions whose name matches one of these globs. */
  functions?: string[]
}

export interface Plan {
  version: 1
  targets: PlanTarget[]
  /**
   * Source files, by absolute path as in the debug info; a vmlinux's own
   * relative to its kernel tree (kernel/sys.c), which reports place under the root.
   */
  files: string[]
  functions: PlanFunction[]
  probes: PlanProbe[]
  branches: PlanBranch[]
  /** Optional: code the plan leaves out, and why (none: absent or empty). */
  skipped?: PlanSkip[]
  /**
   * Optional: source lines no probe proves because the machine code cannot
   * tell whether they ran (plan/lines.ts), sorted by function, file, line;
   * absent: none. Reports give them no DA and list them as not instrumented.
   */
  silent?: PlanSilentLine[]
}

/**
 * A line left silent (plan/lines.ts). 'return-shared': a return statement
 * whose way out of the function a path that does not pass its statement
 * enters from a condition (a clamp's return, duplicated into one exit).
 */
export interface PlanSilentLine {
  function: number
  file: number
  line: number
  reason: 'return-shared'
}

export interface PlanTarget {
  /** Module name, or 'vmlinux'. */
  module: string
  /** The object the plan was made from. */
  object: string
  buildId: string
  granularity: Granularity
  /**
   * Optional: how lines were planned. true: one probe per basic block (the
   * debug info had branches); false: one probe per source line (it had none).
   */
  blocks?: boolean
}

export interface PlanFunction {
  target: number
  /** Source name, e.g. `kvstore_ioctl`. */
  name: string
  file: number
  /** Declaration line; the function's lines span [line, endLine]. */
  line: number
  endLine: number
  /** Index of the probe on its entry (kind 'function'), if it has one. */
  entryProbe?: number
}

export type ProbeKind = 'function' | 'line' | 'branch'

export interface PlanProbe {
  target: number
  /** ELF symbol and byte offset from it: what the kernel is given. */
  symbol: string
  offset: number
  kind: ProbeKind
  /** functions index; also the probe's group in the collector. */
  function: number
  /**
   * Source lines proven executed when this probe is hit, as [file, line]:
   * one probe per basic block covers every line of the block.
   */
  lines: Array<[file: number, line: number]>
}

/** A conditional jump of the source, with one probe per outcome. */
export interface PlanBranch {
  function: number
  file: number
  line: number
  /** Probe indices of the taken and fall-through successors. */
  arms: [taken: number, fallthrough: number]
  /**
   * Optional: probe of the block that ends in this jump, given when nothing but
   * the jump reaches the fall-through successor. Then the fall-through count is
   * exact and taken = source - fall-through, even where the taken successor is
   * a join point that other paths also reach (`if (x) y++; z;`). Without it,
   * each arm counts its successor's block, an upper bound at join points.
   */
  source?: number
}

/**
 * Code left out of a plan. 'ambiguous': another function of the object has
 * the same symbol, so the kernel could not be told which one to probe;
 * 'no-dwarf': no debug info describes the function; 'branch-leaves-function':
 * a conditional jump whose successor is outside its function (a conditional
 * tail call), so it has no arm probe and is not a PlanBranch; 'branch-join':
 * a conditional jump whose fall-through other paths also enter, so that no
 * count says how often the jump went either way (not a PlanBranch either).
 */
export interface PlanSkip {
  target: number
  symbol: string
  /** Of the jump, for 'branch-leaves-function'. */
  offset?: number
  reason: 'ambiguous' | 'no-dwarf' | 'branch-leaves-function' | 'branch-join'
}
