/**
 * What kprobecov adds per test file: attach the worker, detach it, read its
 * counters out and release the slot, with a collector of 10,000 probes. Runs
 * in the guest as root with kprobecov.ko loaded (packages/core/bench/run-in-guest.sh).
 *
 *   node packages/core/bench/per-file-cost.ts [--files N]
 *
 * The probes wait for a module that is never loaded: registering 10,000 kprobes
 * costs minutes under emulation, and neither attach, detach nor the read-out
 * depends on how many probes are planted, only on the counter area (10,000
 * counters per slot here). Prints a Markdown section.
 */
import { Collector, type ProbeSpec } from '../src/index.ts'

const args = process.argv.slice(2)
const files = args[0] === '--files' ? Number(args[1]) : 200
if (!(files >= 10)) throw new Error('--files needs a number >= 10')

const n = 10_000
const c = Collector.open()
c.init({ maxProbes: n, maxSlots: 64 })
const specs: ProbeSpec[] = Array.from({ length: n }, (_, i) => ({
  module: 'kpc_bench_absent',
  symbol: `f${i >> 4}`,
  offset: i & 15,
  kind: (i & 15) === 0 ? 'function' : 'line',
  group: i >> 4,
}))
const added = c.addProbes(specs)
if (added.pending !== n) throw new Error(`expected ${n} pending probes, got ${added.pending}`)
c.arm()

const counters = new BigUint64Array(n)
const steps = { attach: [] as number[], detach: [] as number[], read: [] as number[], release: [] as number[], total: [] as number[] }
for (let i = 0; i < files + 10; i++) {
  const t0 = performance.now()
  const slot = c.attach({ scope: 'tree', sampleId: BigInt(i) })
  const t1 = performance.now()
  c.detach(slot)
  const t2 = performance.now()
  c.readCounters(slot, counters)
  const t3 = performance.now()
  c.release(slot)
  const t4 = performance.now()
  if (i < 10) continue // warm-up
  steps.attach.push(t1 - t0)
  steps.detach.push(t2 - t1)
  steps.read.push(t3 - t2)
  steps.release.push(t4 - t3)
  steps.total.push(t4 - t0)
}
c.close()

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}
const row = (name: string, xs: number[]): string =>
  `| ${name} | ${quantile(xs, 0.5).toFixed(3)} | ${quantile(xs, 0.1).toFixed(3)}–${quantile(xs, 0.9).toFixed(3)} |`
const median = quantile(steps.total, 0.5)
console.log(`## Per test file (\`make bench\`)

Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in the guest (same boot as the probe cost): one
collector of ${n} probes, ${files} test files in a row, each: attach (tree scope) → detach →
read the slot's ${n} counters (one native call) → release. Node ${process.version}, through ffi-rs.

| step | median (ms) | 10th–90th percentile (ms) |
| --- | ---: | ---: |
${row('attach', steps.attach)}
${row('detach (waits for an expedited RCU grace period)', steps.detach)}
${row('read-out of 10,000 counters', steps.read)}
${row('release', steps.release)}
${row('**total per file**', steps.total)}

Goal: under 5 ms per file: **${median < 5 ? 'met' : 'not met'}** (median ${median.toFixed(3)} ms).`)
