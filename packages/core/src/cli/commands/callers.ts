/**
 * kprobecov callers FUNC: the distinct callers of a function (return
 * addresses the kernel recorded at its entry probe) and their call counts,
 * with the source line of each call when the caller is measured too. Needs
 * callers recorded: `run --callers` for a saved run; measured now, always.
 */
import { ProbeState } from '../../device/collector.ts'
import { KprobecovError } from '../../errors.ts'
import { callersOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { functionsNamed, probeLabels } from '../labels.ts'
import { openSource, type QuerySource } from '../source.ts'
import { formatTable } from '../table.ts'

export async function callers(parsed: Parsed, io: CliIO): Promise<number> {
  const o = callersOptions(parsed, io.cwd)
  const source = await openSource(o.target, io, { callers: true })
  try {
    io.stdout.write(callersText(source, o.func))
  } finally {
    source.close()
  }
  return source.exitStatus ?? 0
}

export function callersText(source: QuerySource, func: string): string {
  const { plan, root } = source.run
  const fns = functionsNamed(plan, func)
  if (fns.length === 0) {
    const measured = plan.targets.map((t) => t.module).join(', ')
    throw new KprobecovError('ENOENT', `no function ${func} in ${measured}: check the name (kprobecov status lists the functions)`)
  }
  const labels = probeLabels(plan, root)
  let out = ''
  for (const f of fns) {
    const fn = plan.functions[f]!
    const entry = fn.entryProbe
    const at = entry === undefined ? '' : ` (${labels.source(entry)})`
    if (entry === undefined || (source.run.state[entry] ?? 0) & ProbeState.FAILED) {
      out += `${fn.name}${at}: the kernel refused its entry probe: no callers recorded\n`
      continue
    }
    const c = source.callersOf(entry)
    if (c.callers.length === 0) {
      out += `${fn.name}${at}: not called\n`
      continue
    }
    const calls = c.callers.reduce((s, r) => s + r.calls, 0n) + c.overflow
    out += `${fn.name}${at}: ${c.callers.length} caller${c.callers.length === 1 ? '' : 's'}, ${calls} call${calls === 1n ? '' : 's'}\n`
    const rows = [...c.callers].sort((a, b) => (b.calls > a.calls ? 1 : b.calls < a.calls ? -1 : 0))
      .map((r) => [String(r.calls), r.symbol, r.source ?? ''])
    out += formatTable(['calls', 'caller', 'source'], rows, [0])
    if (c.overflow > 0n) out += `${c.overflow} calls from more callers than the module records (max_callers)\n`
  }
  return out
}
