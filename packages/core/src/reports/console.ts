/**
 * The reporters that print to a terminal (text, text-summary, text-lcov,
 * teamcity): rendered into a private file, then copied to the output, so
 * that they go where the caller says rather than to process.stdout.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import type { Watermarks } from 'istanbul-lib-report'
import { writeReports, type ReporterSpec } from './reports.ts'
import type { NotInstrumentedLine } from '../coverage/coverage-map.ts'

export interface ConsoleOutput {
  write(text: string): unknown
  /** Terminal width; the text table fits it. */
  columns?: number
}

const CONSOLE = new Set<string>(['text', 'text-summary', 'text-lcov', 'teamcity'])

const nameOf = (spec: ReporterSpec): string => (typeof spec === 'string' ? spec : spec[0])

/** Whether the reporter prints (rather than writes files), unless it is given a `file` option. */
export function isConsoleReporter(spec: ReporterSpec): boolean {
  return CONSOLE.has(nameOf(spec)) && (typeof spec === 'string' || (spec[1] as { file?: string }).file === undefined)
}

/** Prints the console reporters among `reporters` to `out`, in order; others are skipped. */
export function printReports(
  map: CoverageMap, reporters: readonly ReporterSpec[], root: string, out: ConsoleOutput, watermarks?: Partial<Watermarks>,
): void {
  const printed = reporters.filter(isConsoleReporter)
  if (printed.length === 0) return
  const tmp = mkdtempSync(path.join(tmpdir(), 'kprobecov-report-'))
  try {
    for (const spec of printed) {
      const name = nameOf(spec)
      const given = typeof spec === 'string' ? {} : spec[1]
      const file = `${name}.txt` // istanbul wants it relative to the report directory
      const options = { maxCols: out.columns ?? 100, ...given, file }
      const resolved = (name === 'text-lcov' ? ['lcovonly', { ...given, file }] : [name, options]) as ReporterSpec
      writeReports(map, { dir: tmp, reporters: [resolved], root, ...(watermarks ? { watermarks } : {}) })
      out.write(readFileSync(path.join(tmp, file), 'utf8'))
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * The line a terminal report ends with when lines were left out because the
 * machine code cannot tell whether they ran (so that silence is not taken for
 * coverage); undefined when none were. `list` names where they are listed.
 */
export function leftOutNote(lines: readonly NotInstrumentedLine[], list: string): string | undefined {
  const n = lines.filter((l) => l.reason !== undefined).length
  if (n === 0) return undefined
  return `${n} line${n === 1 ? '' : 's'} left out: the machine code cannot tell whether ${n === 1 ? 'it' : 'they'} ran; see ${list}\n`
}
