/**
 * Probe planning: from the debug info of each target to the probes to plant
 * and the source lines, functions and branches each probe proves.
 *
 * Lines are planned per basic block: a function's code is split at its entry,
 * at both successors of every conditional jump (the target and the instruction
 * after the jump) and at the optional DebugFunction.blockStarts; every line row
 * belongs to the block holding its offset, and one probe per block proves all
 * of the block's lines. Without branch information (hasBranches false) it falls
 * back to one probe per source line, at the line's first row. Granularity
 * 'function' plants only the entry probe of each function, which proves the
 * lines of its entry block; 'branch' adds a PlanBranch per conditional jump
 * whose successors are both in the function (its cold part included).
 *
 * Soundness: a block found this way may still hold an unconditional jump or a
 * return followed by code reached only from elsewhere, unless the reader gave
 * blockStarts. The arm of a branch is the block at its successor, which other
 * paths may also enter (a join point); where only the jump reaches its
 * fall-through, PlanBranch.source lets coverage derive the taken count exactly.
 */
import path from 'node:path'
import { createRequire } from 'node:module'
import type picomatchType from 'picomatch'
import type { DebugFunction, DebugInfo } from '../debuginfo/types.ts'
import { DEFAULT_GRANULARITY } from '../defaults.ts'
import type {
  Granularity, ModuleTarget, Plan, PlanBranch, PlanFunction, PlanProbe, PlanSilentLine, PlanSkip, ProbeKind,
} from './types.ts'
import { blockAt, distinctLines, probeOffset, splitBlocks, type Block } from './blocks.ts'
import { decideLines, type LinePiece } from './lines.ts'

export { blockAt }

/** picomatch, loaded when globs are given (not every process that loads this module plans or filters). */
const picomatch = (globs: string[], options: picomatchType.PicomatchOptions): ((p: string) => boolean) =>
  (createRequire(import.meta.url)('picomatch') as typeof picomatchType)(globs, options)

export interface PlanOptions {
  /** The project root: relative `sources` globs of vmlinux targets are relative to it. */
  root: string
  /**
   * 'block' (default): one probe per basic block, where the debug info has
   * branches; 'line': one probe per source line (for comparison and tests).
   */
  strategy?: 'block' | 'line'
}

export interface PlanInput {
  target: ModuleTarget
  debugInfo: DebugInfo
}

/** Plans the probes of every target, in order: probe i of the plan is probe i of the collector. */
export function planProbes(targets: readonly PlanInput[], options: PlanOptions): Plan {
  const plan: Plan = { version: 1, targets: [], files: [], functions: [], probes: [], branches: [] }
  const skipped: PlanSkip[] = []
  const silent: PlanSilentLine[] = []
  const fileIndex = new Map<string, number>()
  for (const { target, debugInfo } of targets) {
    planTarget(plan, skipped, silent, fileIndex, target, debugInfo, options)
  }
  if (skipped.length > 0) plan.skipped = skipped
  if (silent.length > 0) {
    // A line the code of one function cannot decide is proven by no probe, in any function
    // (a header's line inlined into several): its DA would speak for some of its runs only.
    const keys = new Set(silent.map((s) => `${s.file}:${s.line}`))
    for (const p of plan.probes) p.lines = p.lines.filter(([f, l]) => !keys.has(`${f}:${l}`))
    plan.silent = silent
  }
  return plan
}

/** One piece of a function's code: the function symbol or one of its cold parts. */
interface Part {
  index: number
  fn: DebugFunction
  blocks: Block[]
  /** Block start offset → plan probe index. */
  probeAt: Map<number, number>
}

function planTarget(
  plan: Plan, skipped: PlanSkip[], silent: PlanSilentLine[], fileIndex: Map<string, number>,
  target: ModuleTarget, di: DebugInfo, options: PlanOptions,
): void {
  const isVmlinux = target.name === 'vmlinux'
  const moduleName = target.name.replace(/-/g, '_')
  if (!isVmlinux && di.moduleName !== '' && di.moduleName !== moduleName) {
    throw new Error(`${di.path} is the module '${di.moduleName}', not '${target.name}': ` +
      `point the target's "object" at ${target.name}.ko`)
  }
  const granularity: Granularity = target.granularity ?? DEFAULT_GRANULARITY
  const blocks = options.strategy !== 'line' && di.hasBranches
  const targetIndex = plan.targets.length
  plan.targets.push({
    module: isVmlinux ? 'vmlinux' : moduleName, object: di.path, buildId: di.buildId, granularity, blocks,
  })
  const keep = functionFilter(target, di, options.root)

  const planFile = (file: number): number => {
    const p = di.files[file] ?? ''
    let i = fileIndex.get(p)
    if (i === undefined) {
      i = plan.files.length
      plan.files.push(p)
      fileIndex.set(p, i)
    }
    return i
  }
  const planLines = (lines: Array<[number, number]>): Array<[number, number]> =>
    lines.map(([f, l]) => [planFile(f), l])

  // Cold parts by parent; block starts by function, from every branch of the object.
  const coldParts = new Map<number, number[]>()
  di.functions.forEach((f, i) => {
    if (f.parent !== undefined && f.aliasOf === undefined) {
      const list = coldParts.get(f.parent) ?? []
      list.push(i)
      coldParts.set(f.parent, list)
    }
  })
  const starts = blocks ? branchSuccessorStarts(di) : new Map<number, number[]>()
  // Successor offsets by function, with the number of jumps (and fall-throughs) reaching each.
  const successorStarts = new Map<number, Map<number, number>>()
  if (blocks) {
    for (const b of di.branches) {
      for (const s of [b.taken, b.fallthrough]) {
        if (s.function !== undefined) {
          const m = successorStarts.get(s.function) ?? new Map<number, number>()
          m.set(s.offset, (m.get(s.offset) ?? 0) + 1)
          successorStarts.set(s.function, m)
        }
      }
    }
  }

  const rowsOf = (fn: DebugFunction) => di.lines.slice(fn.firstLine, fn.firstLine + fn.nrLines)

  di.functions.forEach((fn, fnIndex) => {
    if (fn.aliasOf !== undefined || fn.parent !== undefined) return
    if (fn.noDwarf || fn.declFile === 0 || fn.declLine === 0) {
      if (keep(fn, undefined)) skipped.push({ target: targetIndex, symbol: fn.symbol, reason: 'no-dwarf' })
      return
    }
    if (!keep(fn, di.files[fn.declFile])) return
    if (fn.ambiguous) {
      skipped.push({ target: targetIndex, symbol: fn.symbol, reason: 'ambiguous' })
      return
    }

    const planFunction = plan.functions.length
    const declFile = planFile(fn.declFile)
    let endLine = fn.declLine
    const pieces = [fnIndex, ...(coldParts.get(fnIndex) ?? [])]
    for (const i of pieces) {
      for (const r of rowsOf(di.functions[i]!)) if (r.file === fn.declFile && r.line > endLine) endLine = r.line
    }
    const pf: PlanFunction = { target: targetIndex, name: fn.name, file: declFile, line: fn.declLine, endLine }
    plan.functions.push(pf)

    const addProbe = (symbol: string, offset: number, kind: ProbeKind, lines: Array<[number, number]>) => {
      const probe: PlanProbe = { target: targetIndex, symbol, offset, kind, function: planFunction, lines: planLines(lines) }
      plan.probes.push(probe)
      return plan.probes.length - 1
    }

    if (granularity === 'function') {
      // The entry probe proves the entry block (without branch info: the rows at offset 0).
      const rows = rowsOf(fn)
      const entry = blocks
        ? splitBlocks(fn.size, [...(starts.get(fnIndex) ?? []), ...(fn.blockStarts ?? [])], rows)[0]!.rows
        : rows.filter((r) => r.offset === 0 && r.line > 0 && r.file > 0)
      pf.entryProbe = addProbe(fn.symbol, 0, 'function', distinctLines(entry.filter((r) => r.marker !== true)))
      return
    }

    if (!blocks) {
      // One probe per source line, at the line's first row; the entry always has one.
      for (const [k, i] of pieces.entries()) {
        const part = di.functions[i]!
        if (k > 0 && part.ambiguous) {
          skipped.push({ target: targetIndex, symbol: part.symbol, reason: 'ambiguous' })
          continue
        }
        const first = new Map<string, number>()
        for (const r of rowsOf(part)) {
          if (r.line <= 0 || r.file <= 0 || r.marker === true) continue
          const key = `${r.file}:${r.line}`
          if (!first.has(key)) first.set(key, r.offset)
        }
        const byOffset = new Map<number, Array<[number, number]>>()
        if (k === 0) byOffset.set(0, [])
        for (const [key, off] of first) {
          const [f, l] = key.split(':').map(Number) as [number, number]
          const list = byOffset.get(off) ?? []
          list.push([f, l])
          byOffset.set(off, list)
        }
        for (const off of [...byOffset.keys()].sort((a, b) => a - b)) {
          const idx = addProbe(part.symbol, off, k === 0 && off === 0 ? 'function' : 'line', byOffset.get(off)!)
          if (k === 0 && off === 0) pf.entryProbe = idx
        }
      }
      return
    }

    // One probe per basic block; the lines each block proves (lines.ts).
    const pieceList: LinePiece[] = []
    for (const [k, i] of pieces.entries()) {
      const part = di.functions[i]!
      if (k > 0 && part.ambiguous) {
        skipped.push({ target: targetIndex, symbol: part.symbol, reason: 'ambiguous' })
        continue
      }
      const partStarts = [...(starts.get(i) ?? []), ...(part.blockStarts ?? [])]
      pieceList.push({ index: i, fn: part, blocks: splitBlocks(part.size, partStarts, rowsOf(part)) })
    }
    const family = pieceList.flatMap((p) => di.branches.slice(p.fn.firstBranch, p.fn.firstBranch + p.fn.nrBranches))
    const decided = decideLines(pieceList, family, endLine)
    for (const sl of decided.silent) {
      silent.push({ function: planFunction, file: planFile(sl.file), line: sl.line, reason: sl.reason })
    }
    const parts: Part[] = []
    for (const [pi, piece] of pieceList.entries()) {
      const k = piece.index === fnIndex ? 0 : 1
      const p: Part = { index: piece.index, fn: piece.fn, blocks: piece.blocks, probeAt: new Map() }
      const arms = successorStarts.get(piece.index)
      for (const [bi, block] of p.blocks.entries()) {
        const isEntry = k === 0 && block.start === 0
        const isArm = granularity === 'branch' && arms?.has(block.start) === true
        let offset = isEntry ? 0 : probeOffset(block)
        if (offset === undefined && isArm) offset = block.start
        if (offset === undefined) continue
        const kind: ProbeKind = isEntry ? 'function' : isArm ? 'branch' : 'line'
        const idx = addProbe(piece.fn.symbol, offset, kind, decided.proves[pi]![bi]!)
        p.probeAt.set(block.start, idx)
        if (isEntry) pf.entryProbe = idx
      }
      parts.push(p)
    }

    if (granularity !== 'branch') return
    const partByIndex = new Map(parts.map((p) => [p.index, p]))
    for (const part of parts) {
      const fnBranches = di.branches.slice(part.fn.firstBranch, part.fn.firstBranch + part.fn.nrBranches)
      for (const b of fnBranches) {
        if (b.line <= 0 || b.file <= 0) continue
        const arm = (s: typeof b.taken) =>
          s.function === undefined ? undefined : partByIndex.get(s.function)?.probeAt.get(s.offset)
        const taken = arm(b.taken)
        const fallthrough = arm(b.fallthrough)
        if (taken === undefined || fallthrough === undefined) {
          if (!pieces.includes(b.taken.function ?? -1) || !pieces.includes(b.fallthrough.function ?? -1)) {
            skipped.push({ target: targetIndex, symbol: part.fn.symbol, offset: b.offset, reason: 'branch-leaves-function' })
          }
          continue
        }
        if (taken === fallthrough) continue
        const pb: PlanBranch = { function: planFunction, file: planFile(b.file), line: b.line, arms: [taken, fallthrough] }
        // The fall-through successor is reached only from this jump when no other
        // known jump targets it (blockStarts may hold unconditional jump targets).
        const ft = b.fallthrough
        const partAt = pieceList.findIndex((p) => p.index === part.index)
        const onlyFrom = decided.onlyFrom(partAt, ft.offset, partAt, b.offset)
        // With the control flow graph: an arm is reported only where its count is the jump's,
        // i.e. nothing but this jump enters the fall-through (taken = source - fall-through).
        if (onlyFrom === false) {
          skipped.push({ target: targetIndex, symbol: part.fn.symbol, offset: b.offset, reason: 'branch-join' })
          continue
        }
        const exclusive = onlyFrom ?? (ft.function === part.index && successorStarts.get(ft.function)?.get(ft.offset) === 1 &&
          !(part.fn.blockStarts ?? []).includes(ft.offset))
        const source = exclusive ? part.probeAt.get(blockAt(part.blocks, b.offset).start) : undefined
        if (source !== undefined && source !== fallthrough) pb.source = source
        plan.branches.push(pb)
      }
    }
  })
}

/**
 * Both successors of every conditional jump of the object, by the function
 * they are in (offsets from its symbol, unsorted, duplicates possible): with
 * the entry and DebugFunction.blockStarts, where the plan's basic blocks start.
 */
export function branchSuccessorStarts(di: DebugInfo): Map<number, number[]> {
  const starts = new Map<number, number[]>()
  for (const b of di.branches) {
    for (const s of [b.taken, b.fallthrough]) {
      if (s.function === undefined) continue
      const list = starts.get(s.function)
      if (list) list.push(s.offset)
      else starts.set(s.function, [s.offset])
    }
  }
  return starts
}

/**
 * vmlinux targets keep the functions whose declaration file matches one of
 * `sources` or whose name (or symbol) matches one of `functions`; at least one
 * of them is required (a whole kernel is hundreds of thousands of probes).
 * A relative `sources` glob is matched against the path relative to the root
 * when the file is inside it, against a path relative to the kernel tree as
 * it is (kernel/sys.c: see relativeToKernelTree), else against any trailing
 * part of the path. An absolute one sees a relative path under the root.
 * Modules keep every function.
 */
function functionFilter(target: ModuleTarget, di: DebugInfo, root: string):
  (fn: DebugFunction, file: string | undefined) => boolean {
  if (target.name !== 'vmlinux') return () => true
  const sources = target.sources ?? []
  const functions = target.functions ?? []
  if (sources.length === 0 && functions.length === 0) {
    throw new Error(`${di.path}: a vmlinux target needs "sources" or "functions" globs ` +
      `(e.g. sources: ['fs/ext4/**']); planning all of the kernel is not supported`)
  }
  const absRoot = path.resolve(root)
  const matcher = (globs: string[]) => (globs.length ? picomatch(globs, { dot: true }) : () => false)
  const absolute = sources.filter((g) => path.isAbsolute(g))
  const relative = sources.filter((g) => !path.isAbsolute(g))
  const insideMatch = matcher(relative)
  const absMatch = matcher(absolute)
  const outsideMatch = matcher(relative.map((g) => (g.startsWith('**/') ? g : `**/${g}`)))
  const nameMatch = matcher(functions)
  return (fn, file) => {
    if (nameMatch(fn.name) || nameMatch(fn.symbol)) return true
    if (file === undefined || file === '') return false
    // Relative to the kernel tree (relativeToKernelTree): as reports name it, under the root.
    if (!path.isAbsolute(file)) return insideMatch(file) || absMatch(path.join(absRoot, file))
    if (absMatch(file)) return true
    const rel = path.relative(absRoot, file)
    const inside = rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)
    return inside ? insideMatch(rel) : outsideMatch(file)
  }
}
