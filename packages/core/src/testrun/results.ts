/**
 * The coverage of a test run as plain JSON (what a Vitest blob report keeps,
 * what shards merge), and writing it: merged reports, per-test-file reports
 * and tests-by-line.json in one directory (see writeRunOutputs), the
 * console reporters on the terminal.
 */
import libCoverage, { type CoverageMap, type CoverageMapData } from 'istanbul-lib-coverage'
import type { Watermarks } from 'istanbul-lib-report'
import type { CoverageMapper, NotInstrumentedLine } from '../coverage/coverage-map.ts'
import { mergeCoverageMaps } from '../coverage/merge.ts'
import path from 'node:path'
import { isConsoleReporter, leftOutNote, printReports, type ConsoleOutput } from '../reports/console.ts'
import type { ReporterSpec } from '../reports/reports.ts'
import { writeRunOutputs } from '../reports/run-outputs.ts'
import { KprobecovError } from '../errors.ts'

export interface TestRunResults {
  kprobecov: 'test-run'
  version: 1
  /** The root report paths are relative to. */
  root: string
  /** All test files together. */
  merged: CoverageMapData
  /** Test file (relative to the root) → its coverage. */
  perTest: Record<string, CoverageMapData>
  /** Lines whose every probe the kernel refused. */
  notInstrumented: NotInstrumentedLine[]
}

export function buildResults(
  mapper: CoverageMapper, samples: ReadonlyMap<string, BigUint64Array>, probes: number, root: string,
): TestRunResults {
  const total = new BigUint64Array(probes)
  const perTest: Record<string, CoverageMapData> = {}
  for (const name of [...samples.keys()].sort()) {
    const counts = samples.get(name)!
    counts.forEach((c, i) => {
      total[i] = (total[i] ?? 0n) + c
    })
    perTest[name] = mapper.toCoverageMap(counts).toJSON()
  }
  return { kprobecov: 'test-run', version: 1, root, merged: mapper.toCoverageMap(total).toJSON(), perTest, notInstrumented: mapper.notInstrumented }
}

export function isTestRunResults(v: unknown): v is TestRunResults {
  return typeof v === 'object' && v !== null && (v as { kprobecov?: unknown }).kprobecov === 'test-run'
}

/**
 * Merges the results of shards (or of projects) into one: coverage adds up
 * (the maps have the same shape for the same modules); a test file present
 * in several is merged too. All must have the same root.
 */
export function mergeResults(list: readonly TestRunResults[]): TestRunResults {
  if (list.length === 0) throw new KprobecovError('ENODATA', 'no kernel coverage to merge: the blob reports hold none (was the run made with --coverage.provider=kprobe?)')
  const root = list[0]!.root
  const other = list.find((r) => r.root !== root)
  if (other) throw new KprobecovError('EINVAL', `the results to merge were made under different roots (${root}, ${other.root}): merge results of one project`)
  const byTest = new Map<string, CoverageMapData[]>()
  for (const r of list) {
    for (const [name, data] of Object.entries(r.perTest)) {
      const maps = byTest.get(name) ?? []
      maps.push(data)
      byTest.set(name, maps)
    }
  }
  const perTest: Record<string, CoverageMapData> = {}
  for (const name of [...byTest.keys()].sort()) perTest[name] = mergeCoverageMaps(byTest.get(name)!).toJSON()
  const seen = new Set<string>()
  const notInstrumented = list.flatMap((r) => r.notInstrumented).filter((l) => {
    const key = `${l.path}:${l.line}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
  return { kprobecov: 'test-run', version: 1, root, merged: mergeCoverageMaps(list.map((r) => r.merged)).toJSON(), perTest, notInstrumented }
}

export interface WriteResultsOptions {
  dir: string
  reporters: readonly ReporterSpec[]
  watermarks?: Partial<Watermarks>
  /** Where console reporters (text, text-summary, ...) print. */
  out: ConsoleOutput
}

/** Writes the run's directory (replaced as a whole) and prints the console reporters. Returns the merged map. */
export function writeResults(results: TestRunResults, options: WriteResultsOptions): CoverageMap {
  const merged = libCoverage.createCoverageMap(results.merged)
  const perTest = new Map<string, CoverageMap>()
  for (const [name, data] of Object.entries(results.perTest)) perTest.set(name, libCoverage.createCoverageMap(data))
  writeRunOutputs({
    dir: options.dir,
    merged,
    perTest,
    reporters: options.reporters.filter((r) => !isConsoleReporter(r)),
    root: results.root,
    ...(options.watermarks ? { watermarks: options.watermarks } : {}),
    ...(results.notInstrumented.length > 0 ? { notInstrumented: results.notInstrumented } : {}),
  })
  printReports(merged, options.reporters, results.root, options.out, options.watermarks)
  const note = leftOutNote(results.notInstrumented, path.join(options.dir, 'not-instrumented.json'))
  if (note !== undefined && options.reporters.some(isConsoleReporter)) options.out.write(note)
  return merged
}
