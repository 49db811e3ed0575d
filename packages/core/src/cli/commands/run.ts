/**
 * kprobecov run: measures the kernel code a command and its children run.
 * The command starts held, is attached (scope 'tree'), then released; when
 * it ends, the counters are read and the run's directory is written in one
 * step (reports + kprobecov-run.json), and this process exits with the
 * command's status.
 */
import { runOptions, type Parsed } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { writeRunDir } from '../outputs.ts'
import { Session } from '../session.ts'

export async function run(parsed: Parsed, io: CliIO): Promise<number> {
  const o = runOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  const session = Session.open({
    modules: o.modules, granularity: o.granularity, root: o.root, device: o.device, system: io.system,
    progress, stderr: io.stderr, callers: o.callers, edgeBits: o.edgeBits, command: o.command, io,
  })
  let status: number
  let data
  try {
    status = await session.runCommand(o.command, io)
    progress.step('reading the counters')
    data = session.snapshot()
  } finally {
    session.close()
  }
  progress.step(`writing the reports to ${o.out}`)
  progress.clear()
  writeRunDir(o.out, data, o.reporters, io)
  return status
}
