/**
 * kprobecov watch: prints each probe the first time it is hit, as it
 * happens, woken by the collector's new-coverage events
 * (Collector.waitForNewCoverage). Watches a command (and its children) until
 * it ends, a running process (--pid) or every task (neither; needs root),
 * for --duration seconds or until Ctrl-C, which ends it cleanly: the last
 * hits are printed, the probes removed, and the summary written.
 */
import { existsSync } from 'node:fs'
import { watchOptions, type Parsed } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { probeLabels } from '../labels.ts'
import { Session } from '../session.ts'
import { percent } from '../table.ts'

const TICK_MS = 100

export async function watch(parsed: Parsed, io: CliIO): Promise<number> {
  const o = watchOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  const session = Session.open({ ...o, system: io.system, progress, command: o.command, io })
  const labels = probeLabels(session.plan, o.root)
  const n = session.plan.probes.length
  const seen = new Uint8Array(n)
  let newly = 0
  const start = performance.now()
  const show = (): void => {
    const hits = session.collector.readHits()
    let out = ''
    for (let i = 0; i < n; i++) {
      if (seen[i] || !(((hits[i >> 6] ?? 0n) >> BigInt(i & 63)) & 1n)) continue
      seen[i] = 1
      newly++
      const at = ((performance.now() - start) / 1000).toFixed(2)
      const source = labels.source(i)
      out += `+${at}s  ${labels.label(i)}${source === '' ? '' : `  ${source}`}\n`
    }
    if (out !== '') io.stdout.write(out)
  }

  let interrupted = false
  const onInterrupt = () => {
    interrupted = true
  }
  const deadline = o.duration === undefined ? Infinity : start + o.duration
  const watchUntil = async (ended: () => boolean): Promise<void> => {
    while (!interrupted && !ended() && performance.now() < deadline) {
      const wait = Math.max(0, Math.min(TICK_MS, deadline - performance.now()))
      if (await session.collector.waitForNewCoverage(wait)) show()
    }
    show()
  }

  let status = 0
  process.on('SIGINT', onInterrupt)
  try {
    if (o.command !== undefined) {
      status = await session.runCommand(o.command, io, {
        whileRunning: async (cmd) => {
          let ended = false
          void cmd.exited.then(() => {
            ended = true
          })
          await watchUntil(() => ended)
        },
      })
      show()
    } else {
      session.attach(o.pid)
      progress.clear()
      io.stderr.write(`kprobecov: watching ${o.pid === undefined ? 'every task' : `process ${o.pid} and its children`}${o.duration === undefined ? '' : ` for ${o.duration / 1000} s`}; Ctrl-C ends it\n`)
      const gone = o.pid === undefined ? () => false : () => !existsSync(`${io.system.proc ?? '/proc'}/${o.pid}`)
      await watchUntil(gone)
      session.detach()
    }
  } finally {
    process.off('SIGINT', onInterrupt)
    session.close()
  }
  const hit = seen.reduce((s, x) => s + x, 0)
  const secs = ((performance.now() - start) / 1000).toFixed(1)
  io.stdout.write(`watch: ${newly} probes hit for the first time in ${secs} s; ${hit} of ${n} probes hit (${percent(hit, n)})\n`)
  return status
}
