/**
 * Basic blocks of one piece of code (a function symbol, or its cold part)
 * from its line rows and its block starts. Pure arithmetic on offsets: the
 * caller decides where blocks start.
 */
import type { DebugLine } from '../debuginfo/types.ts'

export interface Block {
  /** Offset of the block's first instruction, from the symbol. */
  start: number
  /** Line rows (line > 0, file > 0) whose offset is in the block, in offset order. */
  rows: DebugLine[]
}

/**
 * Splits code of `size` bytes at `starts` (offsets; 0 is always a start;
 * duplicates and offsets outside [0, size) are ignored) and gives every row
 * with a source line to the block holding its offset. Rows must be sorted by
 * offset (DebugInfo.lines is).
 */
export function splitBlocks(size: number, starts: Iterable<number>, rows: readonly DebugLine[]): Block[] {
  const set = new Set<number>([0])
  for (const s of starts) if (s > 0 && s < size) set.add(s)
  const sorted = [...set].sort((a, b) => a - b)
  const blocks: Block[] = sorted.map((start) => ({ start, rows: [] }))
  let b = 0
  for (const row of rows) {
    if (row.line <= 0 || row.file <= 0) continue
    // Rows are sorted; a row before the current block (should not happen) stays in it.
    while (b + 1 < blocks.length && blocks[b + 1]!.start <= row.offset) b++
    blocks[b]!.rows.push(row)
  }
  return blocks
}

/**
 * Where a block's probe goes: its start when a line row is there, else its
 * first row with a line; undefined when the block has no line at all.
 */
export function probeOffset(block: Block): number | undefined {
  const first = block.rows[0]
  if (first === undefined) return undefined
  return first.offset <= block.start ? block.start : first.offset
}

/** The distinct [file, line] pairs of rows, in order of first appearance. */
export function distinctLines(rows: readonly DebugLine[]): Array<[file: number, line: number]> {
  const seen = new Set<string>()
  const out: Array<[number, number]> = []
  for (const r of rows) {
    const key = `${r.file}:${r.line}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push([r.file, r.line])
  }
  return out
}

/** The block holding an offset (blocks are sorted by start; the first starts at 0). */
export function blockAt(blocks: readonly Block[], offset: number): Block {
  let lo = 0
  let hi = blocks.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (blocks[mid]!.start <= offset) lo = mid
    else hi = mid - 1
  }
  return blocks[lo]!
}
