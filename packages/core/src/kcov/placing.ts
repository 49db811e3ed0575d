/**
 * Placing KCOV's PCs at run time: where the measured sections are (bases,
 * and the per-window __init rule), PCs → call sites of the map (counted;
 * the unknown ones told apart) → probe hits, and KcovResolver, which a
 * worker keeps across drains. The map itself is built in map.ts.
 */
import type { KcovMap } from './map.ts'

/** The loaded address of each measured section of a target; absent: not loaded. */
export type SectionBases = ReadonlyMap<string, bigint>

/** Where the targets' sections were at some moment: per target (map order), undefined: not loaded. */
export type TargetBases = ReadonlyArray<SectionBases | undefined>

/**
 * The per-window __init rule: bases without the .init.* sections of each
 * target whose module is still the load it was when the window began
 * (loadsAtStart; a load id per target, undefined: not loaded). That load's
 * module_init ran before the window and its init code is freed (other code
 * may be there by now); a load during the window keeps them, its
 * module_init ran in the window.
 */
export function withoutFreedInit(
  bases: TargetBases, loadsAtStart: ReadonlyArray<bigint | undefined>, loadsNow: ReadonlyArray<bigint | undefined>,
): TargetBases {
  return bases.map((b, i) => {
    if (!b || loadsNow[i] === undefined || loadsNow[i] !== loadsAtStart[i]) return b
    return new Map([...b].filter(([name]) => !name.startsWith('.init')))
  })
}

/** Counts per KCOV call site, for PCs placed in the map's modules. */
export interface SiteCounts {
  /** `${target}:${section}:${offset}` (indices into the map) → times recorded. */
  counts: Map<string, bigint>
  /** PCs inside a measured section that are no known call site. */
  unknown: number
  /** The first of them, for messages: module+section+offset. */
  firstUnknown: string | undefined
}

interface Range {
  lo: bigint
  hi: bigint
  target: number
  section: number
  /** module + section name, for messages */
  label: string
}

function rangesOf(map: KcovMap, bases: TargetBases, kaslr: bigint): Range[] {
  const ranges: Range[] = []
  map.targets.forEach((t, ti) => {
    const b = bases[ti]
    if (!b) return
    t.sections.forEach((s, si) => {
      const base = b.get(s.name)
      if (base === undefined) return
      const lo = base - kaslr
      ranges.push({ lo, hi: lo + BigInt(s.size), target: ti, section: si, label: `${t.module}${s.name}` })
    })
  })
  return ranges.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0))
}

function rangeOf(ranges: readonly Range[], pc: bigint): Range | undefined {
  let lo = 0
  let hi = ranges.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (ranges[mid]!.lo <= pc) lo = mid + 1
    else hi = mid
  }
  const r = ranges[lo - 1]
  return r && pc < r.hi ? r : undefined
}

/**
 * Adds canonical PCs (with their counts) to `into`, each placed with the
 * first of `basesList` whose ranges hold it (a module may have been loaded
 * elsewhere before: the records of a process that unloaded or reloaded it
 * come with the addresses it saw). PCs no list places are not counted.
 */
export function countSites(
  map: KcovMap, pcs: Iterable<readonly [bigint, bigint]>, basesList: readonly TargetBases[], kaslr: bigint,
  into: SiteCounts = { counts: new Map(), unknown: 0, firstUnknown: undefined },
): SiteCounts {
  const lists = basesList.map((b) => rangesOf(map, b, kaslr))
  for (const [pc, n] of pcs) {
    let r: Range | undefined
    for (const ranges of lists) if ((r = rangeOf(ranges, pc))) break
    if (!r) continue
    const off = Number(pc - r.lo)
    const sec = map.targets[r.target]!.sections[r.section]!
    if (indexOf(sec.pcs, off) < 0) {
      if (indexOf(sec.calls, off) >= 0) continue // a callee's tail call: nothing of ours ran
      into.unknown++
      into.firstUnknown ??= `${r.label}+0x${off.toString(16)}`
      continue
    }
    const key = `${r.target}:${r.section}:${off}`
    into.counts.set(key, (into.counts.get(key) ?? 0n) + n)
  }
  return into
}

/** Probe index → count: the largest count of the call sites that stand for it. */
export function probeHits(map: KcovMap, sites: SiteCounts): Map<number, bigint> {
  const hits = new Map<number, bigint>()
  for (const [key, c] of sites.counts) {
    const [t, s, off] = key.split(':').map(Number) as [number, number, number]
    const sec = map.targets[t]!.sections[s]!
    const probe = sec.probes[indexOf(sec.pcs, off)]!
    if (probe < 0) continue
    if (c > (hits.get(probe) ?? 0n)) hits.set(probe, c)
  }
  for (const [probe, plus, minus] of map.derived) {
    const c = (hits.get(plus) ?? 0n) - (hits.get(minus) ?? 0n)
    if (c > 0n) hits.set(probe, c)
  }
  return hits
}

export interface KcovResolved {
  /** Probe index → count (the largest count of its PCs). */
  hits: Map<number, bigint>
  /** PCs inside a measured section that are no known call site. */
  unknown: number
  /** The first of them, for messages: module+section+offset. */
  firstUnknown: string | undefined
}

/**
 * Resolves canonical PCs (as KCOV records them) with their counts, with the
 * sections where they are now (setBases); the ranges to keep when draining.
 */
export class KcovResolver {
  readonly #map: KcovMap
  #bases: TargetBases = []
  #kaslr = 0n
  /** Measured ranges, canonical, sorted by start. */
  #ranges: Range[] = []

  constructor(map: KcovMap) {
    this.#map = map
  }

  /** Sets the sections' addresses (read when a sample is taken: modules load and reload). */
  setBases(bases: TargetBases, kaslr: bigint): void {
    this.#bases = bases
    this.#kaslr = kaslr
    this.#ranges = rangesOf(this.#map, bases, kaslr)
  }

  get bases(): TargetBases {
    return this.#bases
  }

  /** The measured ranges as [lo, hi) pairs of canonical addresses, for kpc_kcov_set_drain. */
  rangeWords(): BigUint64Array {
    const out = new BigUint64Array(Math.max(2, this.#ranges.length * 2))
    this.#ranges.forEach((r, i) => {
      out[2 * i] = r.lo
      out[2 * i + 1] = r.hi
    })
    return out
  }

  get rangeCount(): number {
    return this.#ranges.length
  }

  resolve(pcs: BigUint64Array, counts: BigUint64Array): KcovResolved {
    const pairs = Array.from(pcs, (pc, i) => [pc, counts[i] ?? 0n] as const)
    const sites = countSites(this.#map, pairs, [this.#bases], this.#kaslr)
    return { hits: probeHits(this.#map, sites), unknown: sites.unknown, firstUnknown: sites.firstUnknown }
  }
}

function indexOf(sorted: readonly number[], v: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid]! < v) lo = mid + 1
    else hi = mid
  }
  return sorted[lo] === v ? lo : -1
}
