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
 *
 * Files are written whole: istanbul's own FileWriter issues one write() per
 * line of a report (tens of thousands for the lcov of a large module; they
 * were half the time of a run's outputs), so the context gets WholeFileWriter,
 * the same writer with each file's text gathered and written at close().
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import libCoverage from 'istanbul-lib-coverage'
import type { CoverageMap, FileCoverage, FileCoverageData } from 'istanbul-lib-coverage'
import type libReportType from 'istanbul-lib-report'
import type { Watermarks } from 'istanbul-lib-report'
import type reportsType from 'istanbul-reports'
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

/**
 * istanbul-lib-report and istanbul-reports (with make-dir, semver and more:
 * about 20 modules) are loaded by the first report, not with kprobecov:
 * the processes that load it to plan, count or check thresholds write none.
 */
const load = createRequire(import.meta.url)
let istanbul: { libReport: typeof libReportType; reports: typeof reportsType; FileWriter: new (baseDir: string) => IstanbulFileWriter } | undefined
const loadIstanbul = () => (istanbul ??= {
  libReport: load('istanbul-lib-report') as typeof libReportType,
  reports: load('istanbul-reports') as typeof reportsType,
  FileWriter: load('istanbul-lib-report/lib/file-writer.js') as new (baseDir: string) => IstanbulFileWriter,
})

/** Writes each reporter's output for the map into options.dir. */
export function writeReports(coverageMap: CoverageMap, options: WriteReportsOptions): void {
  const { libReport, reports } = loadIstanbul()
  const root = path.resolve(options.root)
  const dir = path.resolve(options.dir)
  const sourceFinder = (file: string) => readFileSync(path.resolve(root, file), 'utf8')
  let absolute: CoverageMap | undefined
  const absoluteMap = () => (absolute ??= toAbsolute(coverageMap, root))
  const fixes = new Map<string, (text: string) => string>()
  const writer = wholeFileWriter(dir, fixes)
  const contexts = new Map<boolean, ReturnType<typeof libReportType.createContext>>()
  const context = (keyed: boolean) => {
    let c = contexts.get(keyed)
    if (!c) {
      c = libReport.createContext({
        dir, coverageMap: keyed ? coverageMap : absoluteMap(), sourceFinder,
        ...(options.watermarks ? { watermarks: options.watermarks } : {}),
      })
      c.data.writer = writer // what the context's `writer` returns (istanbul-lib-report 3: lib/context.js)
      contexts.set(keyed, c)
    }
    return c
  }
  for (const spec of options.reporters) {
    const [name, given] = typeof spec === 'string' ? [spec, {}] : spec
    const reporterOptions: Record<string, unknown> = { ...given }
    if (PROJECT_ROOT.has(name) && reporterOptions.projectRoot === undefined) reporterOptions.projectRoot = root
    const report = reports.create(name, reporterOptions as Partial<ReportOptions[typeof name]>)
    if (name === 'lcov' || name === 'lcovonly') {
      const file = typeof reporterOptions.file === 'string' ? reporterOptions.file : 'lcov.info'
      fixes.set(path.resolve(dir, file), (text) => absoluteOutsideRoot(text, root))
    }
    report.execute(context(KEYED_BY_PATH.has(name)))
    fixes.clear()
  }
}

/** What istanbul-lib-report's FileWriter and its file content writers offer (lib/file-writer.js). */
interface IstanbulFileWriter {
  baseDir: string
  writerForDir(subdir: string): IstanbulFileWriter
  writeFile(file: string | null): ContentWriter
  copyFile(source: string, dest: string, header?: string): void
}
interface ContentWriter {
  write(str: string): void
  println(str: string): void
  colorize(str: string, clazz?: string): string
  close(): void
}

type Fixes = ReadonlyMap<string, (text: string) => string>
let WholeFileWriter: (new (baseDir: string, fixes: Fixes, made: Set<string>) => IstanbulFileWriter) | undefined

/**
 * istanbul's FileWriter, whose files get their text in one write at close()
 * and whose directories are made once (istanbul makes the directory of every
 * file it writes). The console writer (file `-` or null) is istanbul's.
 * `fixes` rewrite the text of the files they name (absolute paths) before it
 * is written; `made`: the directories made so far.
 */
function wholeFileWriter(baseDir: string, fixes: Fixes, made = new Set<string>()): IstanbulFileWriter {
  WholeFileWriter ??= class extends loadIstanbul().FileWriter {
    readonly #fixes: Fixes
    readonly #made: Set<string>

    constructor(baseDir: string, fixes: Fixes, made: Set<string>) {
      super(baseDir)
      this.#fixes = fixes
      this.#made = made
    }

    override writerForDir(subdir: string): IstanbulFileWriter {
      return wholeFileWriter(super.writerForDir(subdir).baseDir, this.#fixes, this.#made)
    }

    override writeFile(file: string | null): ContentWriter {
      if (file === null || file === '-') return super.writeFile(file)
      if (path.isAbsolute(file)) throw new Error(`Cannot write to absolute path: ${file}`) // as istanbul
      const target = path.resolve(this.baseDir, file)
      const parent = path.dirname(target)
      if (!this.#made.has(parent)) {
        mkdirSync(parent, { recursive: true })
        this.#made.add(parent)
      }
      return new WholeFileContent(openSync(target, 'w'), this.#fixes.get(target))
    }
  }
  return new WholeFileWriter(baseDir, fixes, made)
}

class WholeFileContent implements ContentWriter {
  #text = ''
  readonly #fd: number
  readonly #fix: ((text: string) => string) | undefined

  constructor(fd: number, fix: ((text: string) => string) | undefined) {
    this.#fd = fd
    this.#fix = fix
  }

  write(str: string): void {
    this.#text += str
  }

  println(str: string): void {
    this.#text += `${str}\n`
  }

  colorize(str: string): string {
    return str
  }

  close(): void {
    try {
      writeFileSync(this.#fd, this.#fix ? this.#fix(this.#text) : this.#text)
    } finally {
      closeSync(this.#fd)
    }
    this.#text = ''
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

/** lcov text: `SF:../../x` (outside the root) → `SF:/abs/x`. */
function absoluteOutsideRoot(text: string, root: string): string {
  return text.replace(/^SF:(\.\.(?:\/|$).*)$/gm, (_, rel: string) => `SF:${path.resolve(root, rel)}`)
}
