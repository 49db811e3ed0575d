/**
 * Coverage reports, written by istanbul-reports through istanbul-lib-report.
 *
 * Maps from toCoverageMap are keyed by report path: relative to the root
 * inside it, absolute outside. Reporters see them as follows:
 * - json, json-summary: keys as they are (portable between checkouts);
 * - every other reporter: absolute paths (resolved against the root), so the
 *   HTML report reads the C source wherever the process runs, and with
 *   projectRoot = root, so lcov's `SF:` is relative to the root. lcov files
 *   then get `SF:` of files outside the root made absolute again (istanbul
 *   would write `../../usr/src/...`).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import libCoverage from 'istanbul-lib-coverage'
import type { CoverageMap, FileCoverage, FileCoverageData } from 'istanbul-lib-coverage'
import libReport from 'istanbul-lib-report'
import type { Watermarks } from 'istanbul-lib-report'
import reports from 'istanbul-reports'
import type { ReportOptions, ReportType } from 'istanbul-reports'

/** A reporter name, or a name with its istanbul-reports options. */
export type ReporterSpec = ReportType | { [K in ReportType]: [K, Partial<ReportOptions[K]>] }[ReportType]

export interface WriteReportsOptions {
  /** Output directory (created). */
  dir: string
  reporters: readonly ReporterSpec[]
  /** Project root: relative paths of the map are relative to it. */
  root: string
  watermarks?: Partial<Watermarks>
}

const KEYED_BY_PATH = new Set<string>(['json', 'json-summary'])
const PROJECT_ROOT = new Set<string>(['lcov', 'lcovonly', 'cobertura', 'clover', 'text-lcov'])

/** Writes each reporter's output for the map into options.dir. */
export function writeReports(coverageMap: CoverageMap, options: WriteReportsOptions): void {
  const root = path.resolve(options.root)
  const dir = path.resolve(options.dir)
  const sourceFinder = (file: string) => readFileSync(path.resolve(root, file), 'utf8')
  let absolute: CoverageMap | undefined
  const absoluteMap = () => (absolute ??= toAbsolute(coverageMap, root))
  const contexts = new Map<boolean, ReturnType<typeof libReport.createContext>>()
  const context = (keyed: boolean) => {
    let c = contexts.get(keyed)
    if (!c) {
      c = libReport.createContext({
        dir, coverageMap: keyed ? coverageMap : absoluteMap(), sourceFinder,
        ...(options.watermarks ? { watermarks: options.watermarks } : {}),
      })
      contexts.set(keyed, c)
    }
    return c
  }
  for (const spec of options.reporters) {
    const [name, given] = typeof spec === 'string' ? [spec, {}] : spec
    const reporterOptions: Record<string, unknown> = { ...given }
    if (PROJECT_ROOT.has(name) && reporterOptions.projectRoot === undefined) reporterOptions.projectRoot = root
    const report = reports.create(name, reporterOptions as Partial<ReportOptions[typeof name]>)
    report.execute(context(KEYED_BY_PATH.has(name)))
    if (name === 'lcov' || name === 'lcovonly') {
      const file = typeof reporterOptions.file === 'string' ? reporterOptions.file : 'lcov.info'
      absoluteOutsideRoot(path.join(dir, file), root)
    }
  }
}

function toAbsolute(map: CoverageMap, root: string): CoverageMap {
  const out = libCoverage.createCoverageMap({})
  for (const file of map.files()) {
    const fc: FileCoverage = map.fileCoverageFor(file)
    out.addFileCoverage({ ...(fc.toJSON() as FileCoverageData), path: path.resolve(root, fc.path) })
  }
  return out
}

/** `SF:../../x` (outside the root) → `SF:/abs/x`. */
function absoluteOutsideRoot(lcovFile: string, root: string): void {
  let text: string
  try {
    text = readFileSync(lcovFile, 'utf8')
  } catch {
    return
  }
  const fixed = text.replace(/^SF:(\.\.(?:\/|$).*)$/gm, (_, rel: string) => `SF:${path.resolve(root, rel)}`)
  if (fixed !== text) writeFileSync(lcovFile, fixed)
}
