/**
 * kprobecov paths: the edge map. The kernel counts, per slot, AFL-style
 * edges between consecutive probe hits of a task, hashed into 2^bits
 * buckets (kmod/hit.c): with h(i) = hash_32(i, bits), an edge from probe p
 * to probe q lands in bucket (h(p) >> 1) ^ h(q); a task's first hit in
 * h(q). This maps buckets back to candidate edges from the plan:
 *   - next:   a block to the next block of the same symbol (fall-through);
 *   - branch: the block ending in a conditional jump to its taken arm
 *             (runs with --granularity branch have the jumps);
 *   - call:   any hit probe to a hit function entry (listed only when hit).
 * A candidate is hit when its bucket counts > 0 and both its probes were
 * hit. Two edges in one bucket look alike: an edge can look hit because
 * another one ran (the chance is the share of buckets hit). Returns and
 * unconditional jumps are no candidates: their buckets stay unexplained.
 * Edges join consecutive hits: the edge out of a block that calls a
 * function starts at the callee's last probe (a return), so the block's own
 * candidate edges show as missed.
 */
import { KprobecovError } from '../../errors.ts'
import type { Plan } from '../../plan/types.ts'
import { pathsOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { probeLabels } from '../labels.ts'
import type { RunData } from '../record.ts'
import { openSource } from '../source.ts'

export async function paths(parsed: Parsed, io: CliIO): Promise<number> {
  const o = pathsOptions(parsed, io.cwd)
  const source = await openSource(o.target, io, { edgeBits: o.edgeBits })
  try {
    const map = edgeMap(source.run)
    io.stdout.write(o.dot ? edgeDot(source.run, map) : edgeText(source.run, map))
  } finally {
    source.close()
  }
  return source.exitStatus ?? 0
}

/** hash_32(val, bits) of include/linux/hash.h: val * GOLDEN_RATIO_32, top `bits` bits. */
export function hash32(val: number, bits: number): number {
  return (Math.imul(val, 0x61c88647) >>> 0) >>> (32 - bits)
}

/** The bucket of the edge from probe `from` (undefined: a task's first hit) to probe `to`. */
export function edgeBucket(from: number | undefined, to: number, bits: number): number {
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1
  const prev = from === undefined ? 0 : hash32(from, bits) >>> 1
  return ((prev ^ hash32(to, bits)) & mask) >>> 0
}

export interface Edge {
  from: number
  to: number
  kind: 'next' | 'branch' | 'call'
  /** The bucket's count; 0: not hit. */
  count: number
}

export interface EdgeMap {
  bits: number
  /** Candidate edges inside the functions that were entered, hit or not. */
  inner: Edge[]
  /** Hit call edges. */
  calls: Edge[]
  /** Functions never entered (their edges are not listed). */
  notEntered: number
  hitBuckets: number
  /** Hit buckets that no candidate (nor a task's first hit) explains. */
  unexplained: number
  /** Candidates that could look hit by chance (both probes hit), inside functions and calls. */
  innerTested: number
  callsTested: number
}

/** The candidate edges of a plan inside functions: fall-through to the next block, and branch arms. */
export function innerCandidates(plan: Plan): Array<Omit<Edge, 'count'>> {
  const bySymbol = new Map<string, number[]>()
  plan.probes.forEach((p, i) => {
    const key = `${p.target}\0${p.symbol}`
    const list = bySymbol.get(key)
    if (list) list.push(i)
    else bySymbol.set(key, [i])
  })
  const previous = new Map<number, number>()
  const out = new Map<string, Omit<Edge, 'count'>>()
  for (const list of bySymbol.values()) {
    list.sort((a, b) => plan.probes[a]!.offset - plan.probes[b]!.offset)
    for (let k = 1; k < list.length; k++) {
      previous.set(list[k]!, list[k - 1]!)
      out.set(`${list[k - 1]}>${list[k]}`, { from: list[k - 1]!, to: list[k]!, kind: 'next' })
    }
  }
  for (const b of plan.branches) {
    const [taken, fallthrough] = b.arms
    const from = b.source ?? previous.get(fallthrough)
    if (from === undefined) continue
    for (const to of [taken, fallthrough]) {
      if (!out.has(`${from}>${to}`)) out.set(`${from}>${to}`, { from, to, kind: 'branch' })
    }
  }
  return [...out.values()].sort((x, y) => x.from - y.from || x.to - y.to)
}

export function edgeMap(run: RunData): EdgeMap {
  if (!run.edges) {
    throw new KprobecovError('ENODATA', 'this run has no edge counters: run it again with kprobecov run --edge-bits N (N > 0)')
  }
  const { plan } = run
  const { bits, counts } = run.edges
  const hit = (i: number) => (run.counts[i] ?? 0n) > 0n
  const bucketCount = (from: number | undefined, to: number) => counts.get(edgeBucket(from, to, bits)) ?? 0
  const explained = new Set<number>()
  const entered = new Set<number>()
  for (const fn of plan.functions) if (fn.entryProbe !== undefined && hit(fn.entryProbe)) entered.add(plan.probes[fn.entryProbe]!.function)

  const inner: Edge[] = []
  let innerTested = 0
  let callsTested = 0
  for (const c of innerCandidates(plan)) {
    if (!entered.has(plan.probes[c.from]!.function)) continue
    const tested = hit(c.from) && hit(c.to)
    if (tested) innerTested++
    const count = tested ? bucketCount(c.from, c.to) : 0
    if (count > 0) explained.add(edgeBucket(c.from, c.to, bits))
    inner.push({ ...c, count })
  }
  const hitProbes = plan.probes.flatMap((_, i) => (hit(i) ? [i] : []))
  const hitEntries = plan.functions.flatMap((f) => (f.entryProbe !== undefined && hit(f.entryProbe) ? [f.entryProbe] : []))
  const calls: Edge[] = []
  for (const from of hitProbes) {
    for (const to of hitEntries) {
      if (plan.probes[from]!.function === plan.probes[to]!.function) continue
      callsTested++
      const count = bucketCount(from, to)
      if (count === 0) continue
      explained.add(edgeBucket(from, to, bits))
      calls.push({ from, to, kind: 'call', count })
    }
  }
  for (const i of hitProbes) explained.add(edgeBucket(undefined, i, bits))
  let unexplained = 0
  for (const [bucket, c] of counts) if (c > 0 && !explained.has(bucket)) unexplained++
  const functionsWithEntry = plan.functions.filter((f) => f.entryProbe !== undefined).length
  return {
    bits, inner, calls, notEntered: functionsWithEntry - entered.size, hitBuckets: counts.size, unexplained, innerTested, callsTested,
  }
}

/** The chance that a candidate's bucket was hit by another edge. */
const chance = (map: EdgeMap): number => map.hitBuckets / 2 ** map.bits

/** How many of `tested` candidates are expected to look hit by chance. */
const byChance = (map: EdgeMap, tested: number): string => {
  const n = tested * chance(map)
  return n === 0 ? 'none' : n < 0.01 ? 'under 0.01' : `about ${n.toPrecision(2)}`
}

function collisionNote(map: EdgeMap): string {
  const p = chance(map) * 100
  return `edges are hashed into 2^${map.bits} buckets, ${map.hitBuckets} of them hit: an edge shares a hit bucket ` +
    `by chance with probability ${p === 0 ? '0' : p.toPrecision(2)}% and then looks hit although only the other edge ran ` +
    `(more --edge-bits make that rarer)`
}

export function edgeText(run: RunData, map: EdgeMap): string {
  const labels = probeLabels(run.plan, run.root)
  const row = (e: Edge, word: string) =>
    `  ${word.padEnd(4)} ${(e.count > 0 ? String(e.count) : '').padStart(6)}  ${labels.label(e.from)} -> ${labels.label(e.to)}\n`
  const innerHit = map.inner.filter((e) => e.count > 0).length
  let out = `${map.inner.length === 0 ? 'no function was entered\n' : ''}`
  if (map.inner.length > 0) {
    out += `within functions: ${innerHit} of ${map.inner.length} candidate edges hit` +
      ` (fall-through to the next block${run.plan.branches.length > 0 ? ', branch arms' : '; branch arms need --granularity branch'})` +
      `${map.notEntered > 0 ? `; ${map.notEntered} functions never entered are not listed` : ''}` +
      `; hit by chance: ${byChance(map, map.innerTested)}\n`
    for (const e of map.inner) out += row(e, e.count > 0 ? 'hit' : 'miss')
  }
  out += `calls: ${map.calls.length} of ${map.callsTested} candidate edges from a hit probe to a hit function entry hit` +
    `; hit by chance: ${byChance(map, map.callsTested)}\n`
  for (const e of map.calls) out += row(e, 'call')
  out += `${map.unexplained} hit buckets match no candidate edge (returns, unconditional jumps)\n`
  out += `note: ${collisionNote(map)}\n`
  return out
}

export function edgeDot(run: RunData, map: EdgeMap): string {
  const { plan } = run
  const labels = probeLabels(plan, run.root)
  const q = (s: string) => `"${s.replaceAll('"', '\\"')}"`
  const nodes = new Set<number>()
  for (const e of [...map.inner, ...map.calls]) nodes.add(e.from).add(e.to)
  const byFunction = new Map<number, number[]>()
  for (const i of [...nodes].sort((a, b) => a - b)) {
    const f = plan.probes[i]!.function
    const list = byFunction.get(f)
    if (list) list.push(i)
    else byFunction.set(f, [i])
  }
  let out = `// kprobecov paths: ${collisionNote(map)}\ndigraph kprobecov {\n  node [shape=box, fontname="monospace"];\n`
  for (const [f, probes] of byFunction) {
    out += `  subgraph ${q(`cluster_${f}`)} {\n    label=${q(plan.functions[f]!.name)};\n`
    for (const i of probes) {
      const count = run.counts[i] ?? 0n
      out += `    p${i} [label=${q(`${labels.label(i)}\\n${count}`)}${count > 0n ? '' : ', color=gray, fontcolor=gray'}];\n`
    }
    out += '  }\n'
  }
  for (const e of map.inner) {
    out += e.count > 0 ? `  p${e.from} -> p${e.to} [label=${q(String(e.count))}];\n` : `  p${e.from} -> p${e.to} [style=dashed, color=gray];\n`
  }
  for (const e of map.calls) out += `  p${e.from} -> p${e.to} [label=${q(String(e.count))}, color=blue];\n`
  return `${out}}\n`
}
