/**
 * kprobecov run: measures the kernel code a command and its children run.
 * With kprobes: the command starts held, is attached (scope 'tree'), then
 * released. With KCOV (--backend kcov, or auto without kprobecov's device):
 * the command and what it starts trace themselves (KcovBackend). When it
 * ends, the counts are read and the run's directory is written in one step
 * (reports + kprobecov-run.json), and this process exits with the command's
 * status.
 */
import { DEFAULT_KCOV } from '../../kcov/system.ts'
import { chooseBackend } from '../../testrun/options.ts'
import { backendOf, runOptions, type Parsed } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { writeRunDir } from '../outputs.ts'
import type { RunData } from '../record.ts'
import { Session } from '../session.ts'

export async function run(parsed: Parsed, io: CliIO): Promise<number> {
  const o = runOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  const backend = chooseBackend(backendOf(o, io.env), o.device, DEFAULT_KCOV)
  const session = Session.open({
    modules: o.modules, granularity: o.granularity, root: o.root, device: o.device, system: io.system, progress, backend,
    callers: o.callers, edgeBits: o.edgeBits, kcovBuffer: o.kcovBuffer, command: o.command, io,
  })
  let status: number
  let data: RunData
  try {
    status = await session.runCommand(o.command, io)
    progress.step(backend === 'kcov' ? 'placing the PCs' : 'reading the counters')
    data = session.snapshot()
    const { overflows, unknown, firstUnknown } = session.lastSample!
    if (overflows > 0) {
      io.stderr.write(`kprobecov: a KCOV buffer filled up ${overflows} time(s) between drains: coverage after that is lost: give a larger --kcov-buffer\n`)
    }
    if (unknown > 0) {
      io.stderr.write(`kprobecov: ${unknown} KCOV PC(s) in the measured modules are no KCOV call site of their .ko (first ${firstUnknown}): the loaded module is another build: point --module at the .ko that is loaded\n`)
    }
  } finally {
    session.close()
  }
  progress.step(`writing the reports to ${o.out}`)
  progress.clear()
  writeRunDir(o.out, data, o.reporters, io)
  return status
}
