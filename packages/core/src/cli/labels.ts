/**
 * How the CLI names probes: `function:line`, the first line of the probe's
 * block in the function's own source file (a probe of a block without any
 * line: `symbol+0xOFF`). Where two probes of a plan would get the same
 * name, both get their offset too: `function:line+0xOFF`, and clones of
 * one function their symbol: `foo.isra.0+0x0`.
 */
import { reportPath } from '../coverage/paths.ts'
import type { Plan } from '../plan/types.ts'

export interface Labels {
  /** Unique name of probe i. */
  label(i: number): string
  /** Source line of probe i as report-path:line, '' if it has none. */
  source(i: number): string
}

export function probeLabels(plan: Plan, root: string): Labels {
  const paths = new Map<number, string>()
  const pathOf = (file: number): string => {
    let p = paths.get(file)
    if (p === undefined) paths.set(file, (p = reportPath(plan.files[file] ?? '', { root })))
    return p
  }
  const firstLine = (i: number): [file: number, line: number] | undefined => {
    const probe = plan.probes[i]!
    const fn = plan.functions[probe.function]
    return probe.lines.find(([f]) => f === fn?.file) ?? probe.lines[0]
  }
  const base = plan.probes.map((probe, i) => {
    const at = firstLine(i)
    const name = plan.functions[probe.function]?.name ?? probe.symbol
    return at === undefined ? `${probe.symbol}+0x${probe.offset.toString(16)}` : `${name}:${at[1]}`
  })
  const counted = (names: string[]) => {
    const seen = new Map<string, number>()
    for (const n of names) seen.set(n, (seen.get(n) ?? 0) + 1)
    return (n: string) => (seen.get(n) ?? 0) > 1
  }
  const offset = (i: number) => `+0x${plan.probes[i]!.offset.toString(16)}`
  const twice = counted(base)
  const withOffset = base.map((b, i) => (twice(b) && !b.includes('+0x') ? `${b}${offset(i)}` : b))
  // Clones of one function (foo.constprop.0, foo.isra.0) differ in their symbol only.
  const stillTwice = counted(withOffset)
  const labels = withOffset.map((b, i) => (stillTwice(b) ? `${plan.probes[i]!.symbol}${offset(i)}` : b))
  return {
    label: (i) => labels[i] ?? `probe ${i}`,
    source: (i) => {
      const at = firstLine(i)
      return at === undefined ? '' : `${pathOf(at[0])}:${at[1]}`
    },
  }
}

/** Plan function indices named `name` (source name or ELF symbol of one of its probes). */
export function functionsNamed(plan: Plan, name: string): number[] {
  const out: number[] = []
  plan.functions.forEach((f, i) => {
    const symbol = f.entryProbe === undefined ? undefined : plan.probes[f.entryProbe]?.symbol
    if (f.name === name || symbol === name) out.push(i)
  })
  return out
}
