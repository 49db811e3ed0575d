/**
 * Writing a run's directory (reports + the saved run), atomically, and the
 * reporters that print to the terminal (text, text-summary, text-lcov,
 * teamcity), which are rendered after the directory is in place.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import type { ReportType } from 'istanbul-reports'
import { createCoverageMapper, type NotInstrumentedLine } from '../coverage/coverage-map.ts'
import { isConsoleReporter, leftOutNote, printReports } from '../reports/console.ts'
import { writeReports } from '../reports/reports.ts'
import { writeDirectoryAtomically } from '../reports/run-outputs.ts'
import type { CliIO } from './io.ts'
import { RUN_FILE, failedProbes, runToJson, type RunData } from './record.ts'

/** The coverage of a run, and the lines the kernel would not probe. */
export function runCoverage(run: RunData, root: string): { map: CoverageMap; notInstrumented: NotInstrumentedLine[] } {
  const mapper = createCoverageMapper(run.plan, failedProbes(run), { root })
  return { map: mapper.toCoverageMap(run.counts), notInstrumented: mapper.notInstrumented }
}

/**
 * Replaces `dir` with the file reporters' output for `map`, plus `files`
 * (name → content); then prints the terminal reporters to io.stdout.
 */
export function writeCoverageDir(
  dir: string, map: CoverageMap, reporters: readonly ReportType[], root: string, io: CliIO, files: Record<string, string> = {},
  notInstrumented: readonly NotInstrumentedLine[] = [],
): void {
  const toFiles = reporters.filter((r) => !isConsoleReporter(r))
  writeDirectoryAtomically(dir, (tmp) => {
    if (toFiles.length > 0) writeReports(map, { dir: tmp, reporters: toFiles, root })
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(tmp, name), content)
  })
  printReports(map, reporters, root, { write: (t) => io.stdout.write(t), columns: (io.stdout as { columns?: number }).columns ?? 100 })
  const note = leftOutNote(notInstrumented, path.join(dir, 'not-instrumented.json'))
  if (note !== undefined && reporters.some(isConsoleReporter)) io.stdout.write(note)
}

/** Writes a run's directory: reports, the saved run, the lines not instrumented. */
export function writeRunDir(dir: string, run: RunData, reporters: readonly ReportType[], io: CliIO): CoverageMap {
  const { map, notInstrumented } = runCoverage(run, run.root)
  const files: Record<string, string> = { [RUN_FILE]: runToJson(run) }
  if (notInstrumented.length > 0) files['not-instrumented.json'] = `${JSON.stringify(notInstrumented, null, 2)}\n`
  writeCoverageDir(dir, map, reporters, run.root, io, files, notInstrumented)
  return map
}
