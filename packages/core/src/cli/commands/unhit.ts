/**
 * kprobecov unhit: the next probe never hit, of a kind: a function's entry
 * (--kind function), any block (line: every probe proves lines) or a branch
 * arm; --skip passes over some, --all lists them all. Over a live collector
 * the kernel answers (KPROBECOV_NEXT_UNHIT); probes it refused never count.
 */
import { unhitOptions, type Parsed, type UnhitKind } from '../args.ts'
import type { CliIO } from '../io.ts'
import { probeLabels } from '../labels.ts'
import { openSource, type QuerySource } from '../source.ts'

export async function unhit(parsed: Parsed, io: CliIO): Promise<number> {
  const o = unhitOptions(parsed, io.cwd)
  const source = await openSource(o.target, io)
  try {
    io.stdout.write(unhitText(source, o.kind, o.skip, o.all))
  } finally {
    source.close()
  }
  return source.exitStatus ?? 0
}

const KIND_WORD: Record<UnhitKind, string> = { function: 'function', line: 'line', branch: 'branch' }

export function unhitText(source: QuerySource, kind: UnhitKind, skip: number, all: boolean): string {
  const { plan, root } = source.run
  const labels = probeLabels(plan, root)
  const found: number[] = []
  if (all) {
    for (let i = source.nextUnhit(kind, 0); i !== undefined; i = source.nextUnhit(kind, 0, i + 1)) found.push(i)
  } else {
    const i = source.nextUnhit(kind, skip)
    if (i !== undefined) found.push(i)
  }
  if (found.length === 0) {
    return skip > 0 && !all
      ? `none: fewer than ${skip + 1} ${KIND_WORD[kind]} probes were never hit\n`
      : `none: every ${KIND_WORD[kind]} probe was hit\n`
  }
  return found.map((i) => {
    const p = plan.probes[i]!
    return `${labels.label(i)}  ${labels.source(i) || '(no source line)'}  (${p.kind} probe ${i}: ${p.symbol}+0x${p.offset.toString(16)})\n`
  }).join('')
}
