/**
 * The kprobecov CLI: parses the command line (args.ts), runs one command
 * (commands/*.ts) and turns every failure into one line on stderr and an
 * exit status: 2 for usage errors, 1 for the rest (a measured command's
 * own status passes through). No stack traces, but with KPROBECOV_DEBUG=1.
 */
import { KprobecovError } from '../errors.ts'
import { version } from '../version.ts'
import { parseCommandLine, UsageError, type CommandName, type Parsed } from './args.ts'
import { callers } from './commands/callers.ts'
import { cmp } from './commands/cmp.ts'
import { doctor } from './commands/doctor.ts'
import { merge } from './commands/merge.ts'
import { module } from './commands/module.ts'
import { paths } from './commands/paths.ts'
import { report } from './commands/report.ts'
import { run } from './commands/run.ts'
import { status } from './commands/status.ts'
import { trace } from './commands/trace.ts'
import { unhit } from './commands/unhit.ts'
import { vm } from './commands/vm.ts'
import { watch } from './commands/watch.ts'
import { processIO, type CliIO } from './io.ts'

const COMMAND: Record<CommandName, (parsed: Parsed, io: CliIO) => number | Promise<number>> = {
  run, report, merge, status, unhit, callers, paths, trace, cmp, watch, doctor, module, vm,
}

/** Runs the CLI; resolves with the exit status (the bin sets process.exitCode). */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  try {
    const r = parseCommandLine(argv)
    if (r.kind === 'help') {
      io.stdout.write(r.text)
      return 0
    }
    if (r.kind === 'version') {
      io.stdout.write(`kprobecov ${version}\n`)
      return 0
    }
    return await COMMAND[r.parsed.command](r.parsed, io)
  } catch (e) {
    io.stderr.write(`${errorLine(e)}\n`)
    if (io.env.KPROBECOV_DEBUG && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`)
    return e instanceof UsageError ? 2 : 1
  }
}

/** One line for a failure: what is wrong and how to fix it. */
export function errorLine(e: unknown): string {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim()
  if (e instanceof UsageError) return oneLine(e.message)
  if (e instanceof KprobecovError) return `kprobecov: ${oneLine(e.message)}`
  const sys = e as NodeJS.ErrnoException
  if (e instanceof Error && typeof sys.code === 'string' && sys.syscall !== undefined) {
    // A file system error: name the file and what happened, e.g. EACCES on --out.
    const what = sys.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')
    return `kprobecov: ${sys.path ?? sys.syscall}: ${what}${sys.code === 'EACCES' || sys.code === 'EPERM' ? ': check its permissions' : ''}`
  }
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || !(e instanceof Error)) {
    return `kprobecov: internal error: ${oneLine(String(e instanceof Error ? e.message : e))} (a bug: please report it with the output of KPROBECOV_DEBUG=1)`
  }
  return `kprobecov: ${oneLine(e.message)}`
}
