/**
 * kprobecov cmp: the comparisons a command (its threads and children) makes
 * in the measured modules, with their operands, from KCOV's comparison mode
 * (KCOV_TRACE_CMP): one row per distinct comparison, or JSON. Exits with
 * the command's status.
 */
import { reportPath } from '../../coverage/paths.ts'
import type { ComparisonRecord } from '../../kcov/comparisons.ts'
import { KcovBackend } from '../../session/kcov.ts'
import { cmpOptions, type Parsed } from '../args.ts'
import { Progress, type CliIO } from '../io.ts'
import { cliBackendOptions, runCounted } from '../session.ts'
import { checkCommand } from '../spawn.ts'

const hex = (v: bigint) => `0x${v.toString(16)}`

export async function cmp(parsed: Parsed, io: CliIO): Promise<number> {
  const o = cmpOptions(parsed, io.cwd)
  const progress = new Progress(io.stderr, o.progress)
  checkCommand(o.command, io)
  const backend = KcovBackend.open('cmp', cliBackendOptions({
    modules: o.modules, granularity: 'function', root: o.root, system: io.system, progress, kcovBuffer: o.buffer,
  }, 'kcov'))
  let status: number
  let records: ComparisonRecord[]
  try {
    backend.start()
    status = await runCounted(backend, o.command, io, progress)
    records = backend.comparisons()
    if (backend.records.overflows > 0) {
      io.stderr.write(`kprobecov: a KCOV buffer filled up ${backend.records.overflows} time(s) between drains: comparisons after that are lost: give a larger --buffer\n`)
    }
  } finally {
    backend.close()
  }
  const where = (r: ComparisonRecord) => `${r.file === '' ? r.module : reportPath(r.file, { root: o.root })}:${r.line}`
  if (o.json) {
    io.stdout.write(`${JSON.stringify(records.map((r) => ({
      file: r.file === '' ? '' : reportPath(r.file, { root: o.root }), line: r.line, function: r.function, module: r.module,
      size: r.size, constant: r.constant, switch: r.switch, arg1: hex(r.arg1), arg2: hex(r.arg2), count: Number(r.count), pc: hex(r.pc),
    })), null, 2)}\n`)
    return status
  }
  const rows = records.map((r) => [where(r), r.function, `${r.size}${r.switch ? ' switch' : r.constant ? 'c' : ''}`, hex(r.arg1), hex(r.arg2), r.count.toString()])
  const head = ['where', 'function', 'size', 'arg1', 'arg2', 'count']
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cols: string[]) => cols.map((c, i) => (i >= 3 ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd()
  io.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`)
  if (records.length === 0) io.stderr.write(`kprobecov: the command made no comparison in ${o.modules.map((m) => m.name).join(', ')}\n`)
  return status
}
