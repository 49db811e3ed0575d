/**
 * kprobecov trace: the probes the command's main thread hits, in order, as
 * KCOV's trace mode gives PCs: KPROBECOV_TRACE_START on its pid before it is
 * released, so the trace starts at its first instruction. Prints
 * function:line per hit; exits with the command's status.
 */
import { KprobecovError } from '../../errors.ts'
import { traceOptions, type Parsed } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { probeLabels } from '../labels.ts'
import { Session } from '../session.ts'

export async function trace(parsed: Parsed, io: CliIO): Promise<number> {
  const o = traceOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  const session = Session.open({ ...o, system: io.system, progress, traceEntries: o.traceEntries, command: o.command, io })
  let status: number
  let probes: Uint32Array
  let written: number
  try {
    status = await session.runCommand(o.command, io, { beforeRelease: (pid) => session.collector.traceStart(pid) })
    try {
      session.collector.traceStop()
    } catch (e) {
      if (!(e instanceof KprobecovError && e.code === 'ENOENT')) throw e
    }
    ;({ probes, written } = session.collector.readTrace())
  } finally {
    session.close()
  }
  const labels = probeLabels(session.plan, o.root)
  io.stdout.write(Array.from(probes, (i) => `${labels.label(i)}\n`).join(''))
  if (written > probes.length) {
    io.stderr.write(`kprobecov: the trace holds the first ${probes.length} of ${written} hits: use --trace-entries ${written} for all\n`)
  }
  return status
}
