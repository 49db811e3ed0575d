/**
 * Which source lines each basic block of a function proves, and which lines
 * no block can prove (left out of the report, with the reason).
 *
 * A block proves a line when its hit means the line ran; a line is reported
 * only where, besides, the line cannot run without one of its proving blocks
 * running. The rules, per line L of a function (its cold parts included):
 * - S: the blocks holding a row of L that starts a statement (is_stmt) and
 *   covers code; C: the blocks holding any row of L that covers code.
 * - A marker row (a statement row covering no code, of a line with code
 *   elsewhere: DebugLine.marker) joins S when its block dominates every block
 *   of C: the statement stood there on every path to its code (a sunk
 *   initialiser). Elsewhere it is ignored (a BUG() moved to a cold path leaves
 *   one on the path that returns).
 * - S empty: the blocks of C prove L (a line of non-statement rows only).
 * - Otherwise S proves L, with the blocks of C that only paths through S reach.
 *   Code of L on a path that avoids S is hoisted or shared (a loop's invariant
 *   load, the store an else-if chain's arms share, given the first arm's line
 *   as a non-statement row): its block proves nothing, as L's statement does
 *   not start there. Where the statement row is missing from a copy of L's
 *   own code, L is reported not run on that path: recall, never precision.
 * - But where a conditional jump from a path that avoids S enters L's way out
 *   of the function (the straight run from S to a block that leaves it, or
 *   from a block of L's code that such paths reach: one successor each, no
 *   other line's statement), L may be a return whose code that path shares:
 *   a clamp `if (r > MAX) r = MAX; return r;` whose common path jumps from the
 *   condition to the exit. Whether L ran there is unknown: L is silent
 *   ('return-shared'). Other returns reach a shared exit by a jump or a fall
 *   from their own statement, which does not make L silent; nor does a
 *   condition on a later line of the same file (it jumps past its own body
 *   to what follows it, which is not L), nor one whose block runs code of
 *   another line after the condition (that return's value, set before the
 *   jump).
 *
 * The control flow graph comes from the debug info (DebugFunction.blockKinds
 * jumps and leaves, the branches' successors). Where it is not known, edges
 * are added from the entry, which only makes more lines silent: a block no
 * known edge enters, the target of a jump from another piece of the function,
 * and every block of a function that jumps through a register (a jump table).
 * Without the graph (older blobs) markers are ignored and every row proves its
 * line, as before.
 */
import type { DebugBranch, DebugFunction, DebugLine } from '../debuginfo/types.ts'
import { blockAt, distinctLines, type Block } from './blocks.ts'

export type SilentReason = 'return-shared'

export interface SilentLine {
  file: number
  line: number
  reason: SilentReason
}

export interface LinePiece {
  /** functions index of the piece (the function, then its cold parts). */
  index: number
  fn: DebugFunction
  blocks: Block[]
}

export interface LineDecision {
  /** proves[p][b]: the [file, line] pairs block b of piece p proves, in row order. */
  proves: Array<Array<Array<[file: number, line: number]>>>
  silent: SilentLine[]
  /**
   * Whether the block starting at `offset` of piece `piece` is entered only from
   * the block holding `from` of piece `fromPiece` (pieces by their place in the
   * list); undefined without the control flow graph.
   */
  onlyFrom(piece: number, offset: number, fromPiece: number, from: number): boolean | undefined
}

const ENTRY = -1

/** The lines the blocks of one function prove (see the top of this file). */
export function decideLines(pieces: readonly LinePiece[], branches: readonly DebugBranch[], endLine: number): LineDecision {
  const flow = pieces.every((p) => p.fn.blockKinds?.jumps !== undefined && p.fn.blockKinds.leaves !== undefined)
  if (!flow) {
    return {
      proves: pieces.map((p) => p.blocks.map((b) => distinctLines(b.rows.filter((r) => r.marker !== true)))),
      silent: [],
      onlyFrom: () => undefined,
    }
  }
  const g = buildGraph(pieces, branches)
  // Rows by line: node → rows of that line.
  const byLine = new Map<string, { file: number; line: number; code: Set<number>; stmt: Set<number>; markers: Set<number> }>()
  pieces.forEach((p, pi) => p.blocks.forEach((b, bi) => {
    const node = g.base[pi]! + bi
    for (const r of b.rows) {
      const key = `${r.file}:${r.line}`
      let e = byLine.get(key)
      if (!e) byLine.set(key, (e = { file: r.file, line: r.line, code: new Set(), stmt: new Set(), markers: new Set() }))
      if (r.marker === true) e.markers.add(node)
      else {
        e.code.add(node)
        if (r.isStmt) e.stmt.add(node)
      }
    }
  }))

  const proving = new Map<string, Set<number>>()
  const silent: SilentLine[] = []
  for (const [key, e] of byLine) {
    const s = new Set(e.stmt)
    for (const m of e.markers) {
      const reach = g.reachAvoiding(new Set([m]))
      if ([...e.code].every((c) => c === m || !reach.has(c))) s.add(m)
    }
    if (s.size === 0) {
      proving.set(key, e.code)
      continue
    }
    const reach = g.reachAvoiding(s)
    // Code of L on a path that avoids its statement: hoisted or shared (it proves nothing),
    // unless it lies on the way out of the function, where L may be a return the paths share.
    const outside = [...e.code].filter((c) => !s.has(c) && reach.has(c))
    if (jumpedIntoReturn(g, s, outside, reach, e.file, e.line, endLine)) {
      silent.push({ file: e.file, line: e.line, reason: 'return-shared' })
      continue
    }
    proving.set(key, new Set([...s, ...[...e.code].filter((c) => !outside.includes(c))]))
  }

  const proves = pieces.map((p, pi) => p.blocks.map((b, bi) => {
    const node = g.base[pi]! + bi
    return distinctLines(b.rows).filter(([f, l]) => proving.get(`${f}:${l}`)?.has(node) === true)
  }))
  silent.sort((a, b) => a.file - b.file || a.line - b.line)
  const nodeAt = (piece: number, offset: number) => {
    const block = blockAt(pieces[piece]!.blocks, offset)
    return block.start === offset ? g.base[piece]! + pieces[piece]!.blocks.indexOf(block) : -1
  }
  return {
    proves,
    silent,
    onlyFrom(piece, offset, fromPiece, from) {
      const node = nodeAt(piece, offset)
      const src = g.base[fromPiece]! + pieces[fromPiece]!.blocks.indexOf(blockAt(pieces[fromPiece]!.blocks, from))
      return node >= 0 && !g.unknownWayIn.has(node) && g.pred[node]!.length === 1 && g.pred[node]![0] === src
    },
  }
}

interface Graph {
  /** base[p]: node of piece p's first block. */
  base: number[]
  succ: number[][]
  pred: number[][]
  /** Conditional jumps' arm edges, as `${from}>${to}`, with the jump's file and line. */
  condEdges: Map<string, [file: number, line: number]>
  /** Nodes that leave the function (a ret or a jmp out at their end, or a piece's last block). */
  leaves: Set<number>
  rows: DebugLine[][]
  /** Nodes some way into which is not known (edges from the entry stand for it). */
  unknownWayIn: Set<number>
  /** Nodes reachable from the entry on paths that enter none of `avoid`. */
  reachAvoiding(avoid: ReadonlySet<number>): Set<number>
}

function buildGraph(pieces: readonly LinePiece[], branches: readonly DebugBranch[]): Graph {
  const base: number[] = []
  let n = 0
  for (const p of pieces) {
    base.push(n)
    n += p.blocks.length
  }
  const pieceOf = new Map(pieces.map((p, i) => [p.index, i]))
  const succ: number[][] = Array.from({ length: n }, () => [])
  const pred: number[][] = Array.from({ length: n }, () => [])
  const fromEntry = new Set<number>([0])
  const condEdges = new Map<string, [file: number, line: number]>()
  const leaves = new Set<number>()
  const rows: DebugLine[][] = []
  const edge = (a: number, b: number) => {
    if (!succ[a]!.includes(b)) {
      succ[a]!.push(b)
      pred[b]!.push(a)
    }
  }
  const nodeAt = (piece: number, offset: number) => base[piece]! + pieces[piece]!.blocks.indexOf(blockAt(pieces[piece]!.blocks, offset))

  // Direct jmps as [piece of the jmp, its offset, piece of the target, target offset].
  const jumps: Array<[number, number, number, number]> = []
  pieces.forEach((p, pi) => {
    for (const [target, from, where] of p.fn.blockKinds!.jumps!) {
      // The other piece: the cold part (one only) of a function, the function of a cold part.
      const src = where === undefined ? pi : pi > 0 ? 0 : pieces.length === 2 ? 1 : -1
      if (from < 0 || src < 0) fromEntry.add(nodeAt(pi, target))
      else jumps.push([src, from, pi, target])
    }
  })
  pieces.forEach((p, pi) => {
    const k = p.fn.blockKinds!
    const afterEnds = new Set(k.afterEnds)
    const leaving = new Set(k.leaves)
    const own = branches.filter((b) => b.function === p.index)
    p.blocks.forEach((b, bi) => {
      const node = base[pi]! + bi
      rows.push(b.rows)
      if (k.indirectJumps) fromEntry.add(node)
      const end = bi + 1 < p.blocks.length ? p.blocks[bi + 1]!.start : p.fn.size
      const jcc = own.find((br) => br.offset >= b.start && br.offset < end)
      if (jcc) {
        for (const s of [jcc.taken, jcc.fallthrough]) {
          const sp = s.function === undefined ? undefined : pieceOf.get(s.function)
          if (sp === undefined) continue
          const to = nodeAt(sp, s.offset)
          edge(node, to)
          condEdges.set(`${node}>${to}`, [jcc.file, jcc.line])
        }
        return
      }
      const jmp = jumps.filter(([src, from]) => src === pi && from >= b.start && from < end)
      if (jmp.length > 0) {
        for (const [, , dst, target] of jmp) edge(node, nodeAt(dst, target))
        return
      }
      if (bi + 1 === p.blocks.length) {
        leaves.add(node)
        return
      }
      if (afterEnds.has(end)) {
        if (leaving.has(end)) leaves.add(node)
        return
      }
      edge(node, node + 1)
    })
  })
  for (let i = 0; i < n; i++) if (pred[i]!.length === 0) fromEntry.add(i)
  const unknownWayIn = new Set([...fromEntry].filter((i) => i !== 0))

  return {
    base, succ, pred, condEdges, leaves, rows, unknownWayIn,
    reachAvoiding(avoid) {
      const seen = new Set<number>()
      const stack: number[] = []
      for (const s of fromEntry) if (!avoid.has(s) && !seen.has(s)) { seen.add(s); stack.push(s) }
      while (stack.length > 0) {
        const x = stack.pop()!
        for (const y of succ[x]!) if (!avoid.has(y) && !seen.has(y)) { seen.add(y); stack.push(y) }
      }
      return seen
    },
  }
}

/**
 * The blocks from `start` (itself included) straight to a block that leaves
 * the function: each ending in no conditional jump, with one successor, and
 * holding (the first from L's first row on) rows of L, of the function's
 * closing line, or no statement row of another line; undefined when `start`
 * does not run out so.
 */
function straightRun(g: Graph, start: number, file: number, line: number, endLine: number): number[] | undefined {
  const own = (r: DebugLine) => r.file === file && r.line === line
  const quiet = (rows: readonly DebugLine[]) => rows.every((r) => own(r) || r.line === endLine || !r.isStmt || r.marker === true)
  const run: number[] = []
  for (let x = start; ;) {
    // In the first block, from L's first row on.
    const rows = x === start ? g.rows[x]!.slice(Math.max(0, g.rows[x]!.findIndex(own))) : g.rows[x]!
    if (run.length > 64 || run.includes(x) || !quiet(rows)) return undefined
    run.push(x)
    if (g.leaves.has(x)) return run
    const next = g.succ[x]!
    if (next.length !== 1 || g.condEdges.has(`${x}>${next[0]}`)) return undefined
    x = next[0]!
  }
}

/**
 * Whether a conditional jump, from a path that avoids S, enters L's way out of
 * the function: the straight run from a block of S (after it), or from a block
 * of L's code that such paths reach (see the top of this file). A block there
 * that the graph does not know every way into counts as entered so.
 */
function jumpedIntoReturn(
  g: Graph, s: ReadonlySet<number>, outside: readonly number[], reach: ReadonlySet<number>,
  file: number, line: number, endLine: number,
): boolean {
  const run = new Set<number>()
  for (const start of s) for (const x of (straightRun(g, start, file, line, endLine) ?? []).slice(1)) run.add(x)
  for (const start of outside) for (const x of straightRun(g, start, file, line, endLine) ?? []) run.add(x)
  for (const x of run) {
    if (g.unknownWayIn.has(x) && !s.has(x)) return true
    for (const p of g.pred[x]!) {
      const cond = g.condEdges.get(`${p}>${x}`)
      // A condition after L in the same file jumps to code after it, not to L (kvstore's
      // `if (copy_to_user(…)) return -EFAULT; return 0;` into an exit holding an earlier return's row).
      if (reach.has(p) && !s.has(p) && !run.has(p) && cond !== undefined && !(cond[0] === file && cond[1] > line) &&
        !ranOtherCode(g.rows[p]!, file, line)) return true
    }
  }
  return false
}

/**
 * Whether a block, after its last statement row (the condition's), runs code of a line
 * other than L and than that statement's: the path then leaves with another statement's
 * code (`if (a == 0) return 0;` whose zero is set before the jump), not L's.
 */
function ranOtherCode(rows: readonly DebugLine[], file: number, line: number): boolean {
  let last = -1
  rows.forEach((r, i) => { if (r.isStmt && r.marker !== true) last = i })
  const cond = last >= 0 ? rows[last]! : undefined
  return rows.slice(last + 1).some((r) => r.marker !== true && !(r.file === file && r.line === line) &&
    !(cond !== undefined && r.file === cond.file && r.line === cond.line))
}
