/**
 * kprobecov status: per function (or per probe, --probes) the probes'
 * states (planted, armed, pending, gone, failed, hit) and the lines hit,
 * then the coverage ratio: probes hit of those the kernel accepted.
 */
import { ProbeState } from '../../device/collector.ts'
import { errnoName } from '../../errors.ts'
import { statusOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { probeLabels } from '../labels.ts'
import { runCoverage } from '../outputs.ts'
import type { RunData } from '../record.ts'
import { openSource } from '../source.ts'
import { formatTable, percent } from '../table.ts'

const STATES: Array<[bit: number, name: string]> = [
  [ProbeState.REGISTERED, 'planted'],
  [ProbeState.ARMED, 'armed'],
  [ProbeState.PENDING, 'pending'],
  [ProbeState.GONE, 'gone'],
  [ProbeState.FAILED, 'failed'],
  [ProbeState.HIT, 'hit'],
]

export async function status(parsed: Parsed, io: CliIO): Promise<number> {
  const o = statusOptions(parsed, io.cwd)
  const source = await openSource(o.target, io)
  try {
    io.stdout.write(statusText(source.run, o.probes))
  } finally {
    source.close()
  }
  return source.exitStatus ?? 0
}

/** The header lines naming what was measured. */
export function runHeader(run: RunData): string {
  return run.plan.targets.map((t, i) => {
    const loaded = run.modules[i]?.loaded
    const how = loaded === 'not-loaded' ? ', not loaded before the command' : ''
    return `${t.module}: ${t.object} (build-id ${t.buildId.slice(0, 12) || 'none'}, granularity ${t.granularity}${how})\n`
  }).join('')
}

export function statusText(run: RunData, perProbe: boolean): string {
  const { plan } = run
  const labels = probeLabels(plan, run.root)
  const has = (i: number, bit: number) => ((run.state[i] ?? 0) & bit) !== 0
  let body: string
  if (perProbe) {
    body = formatTable(
      ['#', 'probe', 'at', 'kind', 'state', 'hits'],
      plan.probes.map((p, i) => {
        const words = STATES.filter(([bit]) => has(i, bit)).map(([bit, name]) =>
          bit === ProbeState.FAILED ? `failed (${errnoName(run.error[i] ?? 0)})` : name)
        return [String(i), labels.label(i), `${p.symbol}+0x${p.offset.toString(16)}`, p.kind, words.join(' '), String(run.counts[i] ?? 0n)]
      }),
      [0, 5],
    )
  } else {
    const rows = plan.functions.map((fn, f) => {
      const probes = plan.probes.flatMap((p, i) => (p.function === f ? [i] : []))
      const count = (bit: number) => String(probes.filter((i) => has(i, bit)).length)
      const lines = new Map<string, boolean>()
      for (const i of probes) {
        if (has(i, ProbeState.FAILED)) continue
        for (const [file, line] of plan.probes[i]!.lines) {
          const key = `${file}:${line}`
          lines.set(key, (lines.get(key) ?? false) || (run.counts[i] ?? 0n) > 0n)
        }
      }
      const hitLines = [...lines.values()].filter(Boolean).length
      return [fn.name, String(probes.length), ...STATES.map(([bit]) => count(bit)), `${hitLines}/${lines.size}`]
    })
    body = formatTable(['function', 'probes', ...STATES.map(([, n]) => n), 'lines'], rows, [1, 2, 3, 4, 5, 6, 7, 8])
  }
  const accepted = plan.probes.filter((_, i) => !has(i, ProbeState.FAILED)).length
  const hit = plan.probes.filter((_, i) => has(i, ProbeState.HIT)).length
  const lines = runCoverage(run, run.root).map.getCoverageSummary().lines
  const failed = plan.probes.length - accepted
  return `${runHeader(run)}${body}` +
    `coverage: ${hit} of ${accepted} probes hit (${percent(hit, accepted)})` +
    `${failed > 0 ? `, ${failed} refused by the kernel` : ''}; lines ${lines.covered} of ${lines.total} (${percent(lines.covered, lines.total)})\n`
}
