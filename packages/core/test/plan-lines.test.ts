// Which lines a function's blocks prove (plan/lines.ts), on small control flow graphs built by
// hand in the shapes optimising compilers give (issue 23): exact per block.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decideLines, type LinePiece } from '../src/plan/lines.ts'
import type { DebugBranch, DebugFunction, DebugLine } from '../src/debuginfo/types.ts'

/** A row: `line` at `offset`; 's' a statement start, 'm' a marker (empty statement row), '' neither. */
const row = (offset: number, line: number, kind: 's' | 'm' | '' = 's'): DebugLine =>
  ({ section: 0, sectionOffset: offset, function: 0, offset, file: 1, line, isStmt: kind !== '', ...(kind === 'm' ? { marker: true } : {}) })

interface Shape {
  size: number
  /** Block starts and rows, by block. */
  blocks: Array<[start: number, rows: DebugLine[]]>
  /** [offset of the jcc, taken, fall-through, line]. */
  jccs?: Array<[number, number, number, number]>
  /** [target, offset of the jmp]. */
  jumps?: Array<[number, number]>
  /** Block starts after a ret or a trap; `leaves` of them after a ret. */
  afterEnds?: number[]
  leaves?: number[]
  endLine: number
}

function decide(shape: Shape): { proves: string[]; silent: string[] } {
  const fn: DebugFunction = {
    symbol: 'f', name: 'f', section: 0, sectionOffset: 0, size: shape.size, declFile: 1, declLine: 1, global: false,
    noDwarf: false, ambiguous: false, firstLine: 0, nrLines: 0, firstBranch: 0, nrBranches: 0,
    blockKinds: {
      jumpTargets: (shape.jumps ?? []).map(([t]) => t), afterEnds: shape.afterEnds ?? [], indirectJumps: false,
      jumps: shape.jumps ?? [], leaves: shape.leaves ?? [],
    },
  }
  const succ = (offset: number) => ({ function: 0, offset, file: 1, line: 0 })
  const branches: DebugBranch[] = (shape.jccs ?? []).map(([offset, taken, fallthrough, line]) =>
    ({ function: 0, offset, file: 1, line, mnemonic: 'jne', taken: succ(taken), fallthrough: succ(fallthrough) }))
  const piece: LinePiece = { index: 0, fn, blocks: shape.blocks.map(([start, rows]) => ({ start, rows })) }
  const d = decideLines([piece], branches, shape.endLine)
  return {
    proves: d.proves[0]!.map((lines, b) => `${shape.blocks[b]![0]}: ${lines.map(([, l]) => l).join(' ')}`),
    silent: d.silent.map((s) => `${s.line} ${s.reason}`),
  }
}

test('an else-if chain storing once: the shared store block does not prove the arm whose line it carries', () => {
  // if (x) v = f(a); [10-11]  else v = g(a); [12]  store v [13]: the store carries line 11, not a statement.
  assert.deepEqual(decide({
    size: 40, endLine: 14,
    blocks: [[0, [row(0, 10)]], [10, [row(10, 11)]], [20, [row(20, 12)]], [30, [row(30, 11, ''), row(34, 13)]]],
    jccs: [[8, 20, 10, 10]], jumps: [[30, 18]], afterEnds: [20],
  }), { proves: ['0: 10', '10: 11', '20: 12', '30: 13'], silent: [] })
})

test('a clamp whose return is duplicated into one exit: a condition jumps into the return\'s way out, the line is silent', () => {
  // r = a + b; if (r > MAX) [20-21] { sink++; r = MAX; return r; [22-23] } } [24]
  assert.deepEqual(decide({
    size: 30, endLine: 24,
    blocks: [[0, [row(0, 20), row(4, 21)]], [10, [row(10, 22), row(16, 23)]], [20, [row(20, 24)]]],
    jccs: [[8, 20, 10, 21]],
  }), { proves: ['0: 20 21', '10: 22', '20: 24'], silent: ['23 return-shared'] })
})

test('returns reaching a shared exit by a jump from their own statement leave no line silent', () => {
  // if (x) [30] return -E; [31]  ... return 0; [32]  exit [33]: both returns jump or fall into the exit.
  assert.deepEqual(decide({
    size: 40, endLine: 33,
    blocks: [[0, [row(0, 30)]], [10, [row(10, 31)]], [20, [row(20, 32)]], [30, [row(30, 31, ''), row(32, 33)]]],
    jccs: [[8, 20, 10, 30]], jumps: [[30, 18]], afterEnds: [20],
  }), { proves: ['0: 30', '10: 31', '20: 32', '30: 33'], silent: [] })
})

test('a marker whose block dominates all of its line\'s code proves it (a sunk initialiser)', () => {
  // int ret = -ENOMEM; [41, its constant sunk into the error path]  if (fail) [42] return ret; [43] ...
  assert.deepEqual(decide({
    size: 30, endLine: 45,
    blocks: [[0, [row(0, 40), row(4, 41, 'm'), row(4, 42)]], [10, [row(10, 41, ''), row(14, 43)]], [20, [row(20, 44)]]],
    jccs: [[8, 20, 10, 42]], afterEnds: [20], leaves: [20],
  }), { proves: ['0: 40 41 42', '10: 41 43', '20: 44'], silent: [] })
})

test('a marker on a path its line\'s code is not on proves nothing (a BUG() moved to a cold path)', () => {
  // if (x) BUG(); [51]: the returning path keeps a marker of line 51; its ud2 is elsewhere.
  assert.deepEqual(decide({
    size: 30, endLine: 53,
    blocks: [[0, [row(0, 50)]], [10, [row(10, 51, 'm'), row(10, 52)]], [20, [row(20, 51)]]],
    jccs: [[8, 20, 10, 50]], afterEnds: [20], leaves: [20],
  }), { proves: ['0: 50', '10: 52', '20: 51'], silent: [] })
})

test('code hoisted out of a loop proves nothing: only the loop body\'s statement proves its line', () => {
  // while (n) [60] { n--; kfree(t[n]); [61] }: the load of t is hoisted before the loop.
  assert.deepEqual(decide({
    size: 40, endLine: 63,
    blocks: [[0, [row(0, 60), row(4, 61, '')]], [10, [row(10, 61), row(16, 60)]], [30, [row(30, 62)]]],
    jccs: [[8, 30, 10, 60], [28, 10, 30, 60]],
  }), { proves: ['0: 60', '10: 61 60', '30: 62'], silent: [] })
})
