/**
 * kprobecov run: measures the kernel code a command and its children run.
 * With kprobes: the command starts held, is attached (scope 'tree'), then
 * released. With KCOV (--backend kcov, or auto without kprobecov's device):
 * the command and what it starts trace themselves (KcovSession). When it
 * ends, the counts are read and the run's directory is written in one step
 * (reports + kprobecov-run.json), and this process exits with the command's
 * status.
 */
import { DEFAULT_KCOV } from '../../kcov/system.ts'
import { chooseBackend } from '../../testrun/options.ts'
import { backendOf, runOptions, type Parsed, type RunOptions } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { KcovSession } from '../kcov-session.ts'
import { writeRunDir } from '../outputs.ts'
import type { RunData } from '../record.ts'
import { Session } from '../session.ts'

export async function run(parsed: Parsed, io: CliIO): Promise<number> {
  const o = runOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  const backend = chooseBackend(backendOf(o, io.env), o.device, DEFAULT_KCOV)
  if (backend === 'kcov') return runKcov(o, progress, io)
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

async function runKcov(o: RunOptions, progress: Progress, io: CliIO): Promise<number> {
  const session = KcovSession.open({
    mode: 'pc', modules: o.modules, granularity: o.granularity, root: o.root, system: io.system, progress,
    stderr: io.stderr, buffer: o.kcovBuffer, command: o.command, io,
  })
  let status: number
  let data: RunData
  try {
    status = await session.runCommand(o.command, io)
    progress.step('placing the PCs')
    const snap = session.snapshot()
    data = snap.data
    const { overflows } = session.records
    if (overflows > 0) {
      io.stderr.write(`kprobecov: a KCOV buffer filled up ${overflows} time(s) between drains: coverage after that is lost: give a larger --kcov-buffer\n`)
    }
    if (snap.unknown > 0) {
      io.stderr.write(`kprobecov: ${snap.unknown} KCOV PC(s) in the measured modules are no KCOV call site of their .ko (first ${snap.firstUnknown}): the loaded module is another build: point --module at the .ko that is loaded\n`)
    }
  } finally {
    session.close()
  }
  progress.step(`writing the reports to ${o.out}`)
  progress.clear()
  writeRunDir(o.out, data, o.reporters, io)
  return status
}
