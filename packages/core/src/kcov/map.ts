/**
 * From KCOV's PCs to the probes of a plan, so that the KCOV backend produces
 * the same samples as the kprobe backend (same plan, same coverage maps).
 *
 * The rule. A module built for KCOV calls __sanitizer_cov_trace_pc at the
 * start of each basic block of the compiler's; KCOV records the call's
 * return address. The call instruction is the byte before that address
 * (return address - 1): the PC stands for the plan's basic block holding
 * that byte (plan.ts splits a function at its entry, both successors of
 * every conditional jump, and DebugFunction.blockStarts), hence for that
 * block's probe and every line the probe proves. A PC whose block has no
 * probe (a block without a line, a function the plan leaves out, every
 * block but the entry at granularity 'function') counts for nothing. Plans
 * made per source line (no branch information) map the call's line row
 * (the row in effect at return address - 1) to that line's probe in the
 * same function.
 *
 * Blocks without a callback. The compiler instruments its own basic blocks;
 * blocks made later (e.g. `if (x) return -E;` whose return value is set on
 * the jump's edge, a switch lowered into compares, KASAN's checks) have
 * none. Such a block's count is derived where the control flow allows it:
 * when its only way in is one arm of one conditional jump (no other jump
 * targets it, nothing falls into it, the function jumps through no
 * register), and the same holds for the jump's other arm, it ran
 * count(block ending in the jump) - count(other arm) times (every run of
 * that block leaves by one arm). A probe left without a callback and
 * without a derivation is "blind": KCOV cannot see it run, so coverage
 * counts it as not instrumented, like a probe the kernel refused.
 *
 * Counts: a block holding several callbacks runs them equally often (a
 * basic block runs start to end), so a probe's count is the largest count
 * of its PCs, not their sum.
 *
 * The denominator is known apart from the hits: a PC inside a measured
 * module's code that is no known call site (another build of the module,
 * or addresses read wrong) is counted as unknown and reported, not dropped
 * silently.
 */
import type { DebugFunction, DebugInfo, KcovSite } from '../debuginfo/types.ts'
import { KprobecovError } from '../errors.ts'
import { probeOffset, splitBlocks, type Block } from '../plan/blocks.ts'
import { blockAt, branchSuccessorStarts } from '../plan/plan.ts'
import type { Plan } from '../plan/types.ts'

export interface KcovMap {
  kprobecov: 'kcov-map'
  version: 1
  /** The plan's probes: a sample of this map counts as many. */
  probes: number
  targets: KcovMapTarget[]
  /** Probes that no KCOV callback stands for and no count derives (see above), ascending. */
  blind: number[]
  /** [probe, plus, minus]: probe's count is plus's - minus's, in this order (later ones may use earlier ones). */
  derived: Array<[probe: number, plus: number, minus: number]>
}

export interface KcovMapTarget {
  /** As /sys/module names it. */
  module: string
  sections: KcovMapSection[]
}

export interface KcovMapSection {
  /** e.g. .text, .text.unlikely, .init.text: /sys/module/<module>/sections/<name>. */
  name: string
  /** Bytes. */
  size: number
  /** Return addresses of the trace_pc calls, as offsets from the section start, ascending. */
  pcs: number[]
  /** Per pc: the plan probe it stands for, -1 for none. */
  probes: number[]
  /**
   * Return addresses of the module's other calls, ascending: KCOV records
   * one when the callee's last block tail-calls __sanitizer_cov_trace_pc (it
   * says nothing of the module's blocks: not counted, not unknown).
   */
  calls: number[]
}

export interface KcovMapInput {
  /** The object a plan target was made from (plan.targets[i] ↔ inputs[i]). */
  debugInfo: DebugInfo
  /** Its path, for messages. */
  object: string
  /**
   * Its module_init ran before the run (loaded, and not loaded again by the
   * tests): its .init.* sections are left out. That memory was freed and may
   * hold other code by now (another module, kprobes' instruction slots), so a
   * PC there counts for nothing, and its probes are blind, as kprobes cannot
   * plant them either.
   */
  initFreed?: boolean
}

/**
 * The map of a plan made from `inputs` (one per plan target, in order).
 * Throws KprobecovError ENOKCOV when a target has no KCOV callback at all,
 * EINVAL for vmlinux (its code is not where /sys/module says).
 */
export function buildKcovMap(plan: Plan, inputs: readonly KcovMapInput[]): KcovMap {
  const map: KcovMap = { kprobecov: 'kcov-map', version: 1, probes: plan.probes.length, targets: [], blind: [], derived: [] }
  const seen = new Uint8Array(plan.probes.length)
  plan.targets.forEach((target, t) => {
    const input = inputs[t]
    if (!input) throw new KprobecovError('EINVAL', `buildKcovMap: no debug info for plan target ${t} (${target.module})`)
    if (target.module === 'vmlinux') {
      throw new KprobecovError('EINVAL', `the KCOV backend maps loadable modules, not vmlinux: measure built-in code with backend 'kprobe' (kprobecov.ko)`)
    }
    const di = input.debugInfo
    const sites = (di.kcovSites ?? []).filter((s) => s.kind === 'pc' || s.kind === 'call')
    if (!sites.some((s) => s.kind === 'pc')) {
      throw new KprobecovError('ENOKCOV', `${input.object} has no KCOV instrumentation (no __sanitizer_cov_trace_pc call): build it against a kernel with CONFIG_KCOV_INSTRUMENT_ALL=y, or put KCOV_INSTRUMENT := y in its Kbuild; or use backend 'kprobe'`)
    }
    const blocks = new TargetBlocks(plan, t, di)
    const sections = new Map<number, KcovMapSection>()
    for (const site of sites) {
      if (input.initFreed && di.sections[site.section]?.init) continue
      let sec = sections.get(site.section)
      if (!sec) {
        const ds = di.sections[site.section]!
        sec = { name: ds.name, size: ds.size, pcs: [], probes: [], calls: [] }
        sections.set(site.section, sec)
      }
      if (site.kind === 'call') {
        sec.calls.push(site.sectionOffset)
        continue
      }
      const probe = blocks.siteProbe(site)
      sec.pcs.push(site.sectionOffset)
      sec.probes.push(probe)
      if (probe >= 0) seen[probe] = 1
    }
    for (const sec of sections.values()) sec.calls.sort((a, b) => a - b)
    map.targets.push({ module: target.module, sections: [...sections.values()] })
    map.derived.push(...blocks.derive(seen))
  })
  plan.probes.forEach((_, i) => {
    if (!seen[i]) map.blind.push(i)
  })
  return map
}

/** The plan's blocks of one target, and which probe stands for which. */
class TargetBlocks {
  readonly #plan: Plan
  readonly #t: number
  readonly #di: DebugInfo
  /** The target's probes by (symbol, offset), and by (symbol, file, line) for line plans. */
  readonly #byOffset = new Map<string, number>()
  readonly #byLine = new Map<string, number>()
  readonly #planFile = new Map<number, number>()
  readonly #starts: Map<number, number[]> | undefined
  readonly #blocksOf = new Map<number, Block[]>()

  constructor(plan: Plan, t: number, di: DebugInfo) {
    this.#plan = plan
    this.#t = t
    this.#di = di
    plan.probes.forEach((p, i) => {
      if (p.target !== t) return
      this.#byOffset.set(`${p.symbol}+${p.offset}`, i)
      for (const [f, l] of p.lines) {
        const key = `${p.symbol}:${f}:${l}`
        if (!this.#byLine.has(key)) this.#byLine.set(key, i)
      }
    })
    di.files.forEach((f, i) => {
      const k = plan.files.indexOf(f)
      if (k >= 0) this.#planFile.set(i, k)
    })
    this.#starts = plan.targets[t]!.blocks === true ? branchSuccessorStarts(di) : undefined
  }

  #blocks(fi: number): Block[] {
    let blocks = this.#blocksOf.get(fi)
    if (!blocks) {
      const fn = this.#di.functions[fi]!
      blocks = splitBlocks(fn.size, [...(this.#starts?.get(fi) ?? []), ...(fn.blockStarts ?? [])],
        this.#di.lines.slice(fn.firstLine, fn.firstLine + fn.nrLines))
      this.#blocksOf.set(fi, blocks)
    }
    return blocks
  }

  /** The probe of the block of function fi holding `offset`, -1 if it has none. */
  #blockProbe(fi: number, offset: number): number {
    const fn = this.#di.functions[fi]!
    const block = blockAt(this.#blocks(fi), offset)
    const at = block.start === 0 && fn.parent === undefined ? 0 : probeOffset(block)
    return this.#byOffset.get(`${fn.symbol}+${block.start}`) ?? (at === undefined ? -1 : (this.#byOffset.get(`${fn.symbol}+${at}`) ?? -1))
  }

  /** site → the probe it stands for, -1 if none. */
  siteProbe(site: KcovSite): number {
    if (site.function === undefined) return -1
    const fn = this.#di.functions[site.function]
    if (!fn || fn.aliasOf !== undefined) return -1
    const call = site.offset - 1
    if (this.#starts === undefined) {
      const row = lineRowAt(this.#di, fn, call)
      if (!row) return -1
      const f = this.#planFile.get(row.file)
      return f === undefined ? -1 : (this.#byLine.get(`${fn.symbol}:${f}:${row.line}`) ?? -1)
    }
    return this.#blockProbe(site.function, call)
  }

  /**
   * Counts derived for probes no callback stands for (see the top of this
   * file); `known` (per probe: 1 counted) gains the derived ones.
   */
  derive(known: Uint8Array): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = []
    if (this.#starts === undefined) return out
    const di = this.#di
    const refs = new Map<string, number>()
    for (const b of di.branches) {
      for (const s of [b.taken, b.fallthrough]) {
        if (s.function !== undefined) refs.set(`${s.function}:${s.offset}`, (refs.get(`${s.function}:${s.offset}`) ?? 0) + 1)
      }
    }
    const plain = (fi: number | undefined) => {
      const k = fi === undefined ? undefined : di.functions[fi]?.blockKinds
      return k !== undefined && !k.indirectJumps
    }
    /** Only this one jump's arm enters the block at offset of fi. */
    const exclusive = (fi: number, offset: number, isFallthrough: boolean): boolean => {
      const fn = di.functions[fi]!
      const k = fn.blockKinds!
      if (refs.get(`${fi}:${offset}`) !== 1 || k.jumpTargets.includes(offset)) return false
      if (offset === 0) return fn.parent !== undefined // a cold part's start; a function's entry is called
      return isFallthrough || k.afterEnds.includes(offset)
    }
    const probeAt = (fi: number, offset: number): number => {
      const block = blockAt(this.#blocks(fi), offset)
      return block.start === offset ? this.#blockProbe(fi, offset) : -1
    }
    for (let changed = true; changed;) {
      changed = false
      for (const b of di.branches) {
        if (!plain(b.function) || !plain(b.taken.function) || !plain(b.fallthrough.function)) continue
        for (const [s, o, sFalls] of [[b.taken, b.fallthrough, false], [b.fallthrough, b.taken, true]] as const) {
          const ps = probeAt(s.function!, s.offset)
          if (ps < 0 || known[ps] || this.#plan.probes[ps]!.target !== this.#t) continue
          const po = probeAt(o.function!, o.offset)
          const src = this.#blockProbe(b.function, b.offset)
          if (po < 0 || !known[po] || src < 0 || !known[src] || src === po || src === ps) continue
          if (!exclusive(s.function!, s.offset, sFalls) || !exclusive(o.function!, o.offset, !sFalls)) continue
          out.push([ps, src, po])
          known[ps] = 1
          changed = true
        }
      }
    }
    return out
  }
}

/** The line row (with a line) in effect at `offset` of fn, undefined if none. */
export function lineRowAt(di: DebugInfo, fn: DebugFunction, offset: number): { file: number; line: number } | undefined {
  let best: { file: number; line: number } | undefined
  for (let i = fn.firstLine; i < fn.firstLine + fn.nrLines; i++) {
    const row = di.lines[i]!
    if (row.offset > offset) break
    if (row.line > 0 && row.file > 0) best = row
  }
  return best
}

export * from './placing.ts'
