/**
 * The command line: `kprobecov <command> [options] [-- CMD ARGS...]`, parsed
 * with node:util's parseArgs, checked, and turned into typed options. Every
 * mistake is a UsageError with one line that says what to write instead
 * (exit status 2). Each command owns its options, help and builder
 * (args/<command>.ts); what several share is in args/shared.ts.
 */
import { parseArgs } from 'node:util'
import { COMMANDS, UsageError, see, type CommandName, type CommandSpec, type ParseResult, type Values } from './args/base.ts'
import { CALLERS_SPEC } from './args/callers.ts'
import { CMP_SPEC } from './args/cmp.ts'
import { DOCTOR_SPEC } from './args/doctor.ts'
import { MERGE_SPEC } from './args/merge.ts'
import { MODULE_SPEC } from './args/module.ts'
import { PATHS_SPEC } from './args/paths.ts'
import { REPORT_SPEC } from './args/report.ts'
import { RUN_SPEC } from './args/run.ts'
import { HELP } from './args/shared.ts'
import { STATUS_SPEC } from './args/status.ts'
import { TRACE_SPEC } from './args/trace.ts'
import { UNHIT_SPEC } from './args/unhit.ts'
import { VM_SPEC } from './args/vm.ts'
import { WATCH_SPEC } from './args/watch.ts'

export * from './args/base.ts'
export * from './args/shared.ts'
export * from './args/run.ts'
export * from './args/report.ts'
export * from './args/merge.ts'
export * from './args/status.ts'
export * from './args/unhit.ts'
export * from './args/callers.ts'
export * from './args/paths.ts'
export * from './args/trace.ts'
export * from './args/cmp.ts'
export * from './args/watch.ts'
export * from './args/doctor.ts'
export * from './args/module.ts'
export * from './args/vm.ts'
export { DEFAULT_EDGE_BITS, DEFAULT_KCOV_BUFFER, DEFAULT_OUT, DEFAULT_TRACE_ENTRIES } from '../defaults.ts'
export type { Backend as CliBackend } from '../defaults.ts'

const SPECS: Record<CommandName, CommandSpec> = {
  run: RUN_SPEC, report: REPORT_SPEC, merge: MERGE_SPEC, status: STATUS_SPEC, unhit: UNHIT_SPEC, callers: CALLERS_SPEC,
  paths: PATHS_SPEC, trace: TRACE_SPEC, cmp: CMP_SPEC, watch: WATCH_SPEC, doctor: DOCTOR_SPEC, module: MODULE_SPEC, vm: VM_SPEC,
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length))
  return `Usage: kprobecov <command> [options]

Kernel code coverage of any command, with kprobes planted at run time (kprobecov.ko),
or with the kernel's KCOV (run --backend kcov, cmp).

Commands:
${COMMANDS.map((c) => `  ${c.padEnd(width)}  ${SPECS[c].summary}`).join('\n')}

Run 'kprobecov <command> --help' for its options. Example:
  sudo kprobecov run --module mydrv=build/mydrv.ko --out coverage/kernel -- ./test/smoke.sh
`
}

export function commandHelp(command: CommandName): string {
  const s = SPECS[command]
  return `Usage: ${s.usage}

${s.summary[0]!.toUpperCase()}${s.summary.slice(1)}.

Options:${s.help}
  -h, --help                   this help
${s.notes === undefined ? '' : `\n${s.notes}\n`}`
}

/** Parses argv (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): ParseResult {
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError(`kprobecov: no command given (${see()})`)
  if (first === '--help' || first === '-h' || first === 'help') return { kind: 'help', text: mainHelp() }
  if (first === '--version' || first === '-v') return { kind: 'version' }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(first.startsWith('-')
      ? `kprobecov: the command comes first, before ${first} (${see()})`
      : `kprobecov: unknown command '${first}' (${see()})`)
  }
  const command = first as CommandName
  const spec = SPECS[command]
  const dashes = rest.indexOf('--')
  const args = dashes < 0 ? rest : rest.slice(0, dashes)
  const after = dashes < 0 ? undefined : rest.slice(dashes + 1)
  const fail = (message: string): never => {
    throw new UsageError(`kprobecov ${command}: ${message} (${see(command)})`)
  }
  let values: Values
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({ args, options: { ...spec.options, ...HELP }, allowPositionals: true, strict: true }))
  } catch (e) {
    const err = e as Error & { code?: string }
    const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? ''
    const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(' ')[0] ?? quoted
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') fail(`unknown option '${option}'`)
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/does not take an argument/.test(err.message)) fail(`${option} takes no value`)
      if (/ambiguous/.test(err.message)) fail(`${option} needs a value (one that starts with '-' goes as ${option}=VALUE)`)
      fail(`${option} needs a value`)
    }
    throw e
  }
  if (values.help === true) return { kind: 'help', text: commandHelp(command) }
  const [min, max] = spec.positionals
  if (positionals.length > max) {
    fail(`unexpected argument '${positionals[max]}'${spec.after === 'no' ? '' : ': a command to run goes after --'}`)
  }
  if (positionals.length < min) fail('an argument is missing')
  if (after !== undefined && spec.after === 'no') fail('takes no command to run after --')
  if (after !== undefined && after.length === 0) fail('the command after -- is empty')
  if (spec.after === 'required' && after === undefined) {
    fail(`the command to measure goes after --, e.g. kprobecov ${command} --module mydrv -- ./test.sh`)
  }
  return { kind: 'command', parsed: { command, values, positionals, argv: after } }
}

