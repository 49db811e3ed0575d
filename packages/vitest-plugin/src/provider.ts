/**
 * The coverage provider "kprobe", in Vitest's main process.
 *
 *   initialize   options checked, modules read and planned, the collector
 *                sized and shared with the workers through their environment
 *                (not with --merge-reports: no kernel then); the probes are
 *                planted and armed in the background while Vitest starts its
 *                workers, which wait for them (worker.ts)
 *   clean        samples forgotten (first run, and each rerun in watch mode);
 *                the reports directory removed when `clean`
 *   onAfterSuiteRun  one test file's sample from its worker
 *   generateCoverage the results as plain JSON (blob reports keep it)
 *   reportCoverage / mergeReports  reports written, text printed, thresholds
 *
 * A setup error stops the run before any test: one line, exit status 1; so
 * does a failure to arm (the workers fail their file with the same line).
 */
import { existsSync, rmSync } from 'node:fs'
import type { CoverageMap } from 'istanbul-lib-coverage'
import {
  KprobecovError, TestRun, exitOnSetupError, isConsoleReporter, isTestRunResults, isWorkerSample, mergeResults, resolveKprobecovOptions, writeResults,
  type KprobecovOptions, type ReporterSpec, type TestRunResults, type WorkerSample,
} from '@kprobecov/core'
import type { CoverageProvider, ReportContext, ResolvedCoverageOptions, Vitest } from 'vitest/node'

/** What Vitest hands to onAfterSuiteRun (its type is not exported). */
type AfterSuiteRunMeta = Parameters<CoverageProvider['onAfterSuiteRun']>[0]
import { PLUGIN_NAME, PROVIDER, type KprobecovPluginApi } from './index.ts'
import { checkThresholds, type VitestThresholds } from './thresholds.ts'

type KprobeCoverageOptions = ResolvedCoverageOptions & { kprobe?: Partial<KprobecovOptions> }

const WHERE = 'kprobecov options (kprobecov({ ... }) in vitest.config, or test.coverage.kprobe)'

export class KprobeCoverageProvider implements CoverageProvider {
  name = PROVIDER
  #ctx!: Vitest
  #options!: KprobeCoverageOptions
  #run: TestRun | undefined

  initialize(ctx: Vitest): void {
    this.#ctx = ctx
    this.#options = ctx.config.coverage as KprobeCoverageOptions
    try {
      const root = ctx.config.root
      const plugin = ctx.vite.config.plugins.find((p) => p.name === PLUGIN_NAME) as { api?: KprobecovPluginApi } | undefined
      const options = resolveKprobecovOptions({ ...plugin?.api?.options, ...this.#options.kprobe }, root, WHERE)
      if (ctx.config.mergeReports) return // only the blobs' results are merged: no kernel needed
      checkPools(ctx)
      const include = this.#options.include
      const exclude = this.#options.exclude
      this.#run = TestRun.open({
        ...options, root, ...(include?.length ? { include } : {}), ...(exclude?.length ? { exclude } : {}),
        allowExternal: this.#options.allowExternal,
      })
      Object.assign(process.env, this.#run.env)
      this.#run.armed.catch(exitOnSetupError)
    } catch (e) {
      exitOnSetupError(e)
    }
  }

  resolveOptions(): ResolvedCoverageOptions {
    return this.#options
  }

  clean(clean = true): void {
    this.#run?.clearSamples()
    const dir = this.#options.reportsDirectory
    if (clean && existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  }

  onAfterSuiteRun(meta: AfterSuiteRunMeta): void {
    const sample = meta.coverage
    if (!this.#run || !isWorkerSample(sample)) return
    const testFile = (sample as WorkerSample & { testFile?: string | null }).testFile ?? meta.testFiles[0]
    if (testFile === undefined) return
    this.#run.addSample(testFile, sample)
  }

  async generateCoverage(_context: ReportContext): Promise<TestRunResults | null> {
    if (!this.#run) return null
    await this.#run.armed // a run without tests can end before
    return this.#run.results()
  }

  reportCoverage(coverage: unknown, _context: ReportContext): void {
    if (isTestRunResults(coverage)) this.#report(coverage)
  }

  mergeReports(coverages: unknown[]): void {
    try {
      this.#report(mergeResults(coverages.filter(isTestRunResults)))
    } catch (e) {
      exitOnSetupError(e)
    }
  }

  #report(results: TestRunResults): void {
    const o = this.#options
    const logger = this.#ctx.logger
    const reporters = o.reporter.map(([name, given]) => {
      const options = { ...(o.skipFull ? { skipFull: true } : {}), ...(given as object) }
      return (Object.keys(options).length === 0 ? name : [name, options]) as ReporterSpec
    })
    if (reporters.some(isConsoleReporter)) {
      logger.log('\n % Coverage report from kprobe')
    }
    const out = { write: (t: string) => logger.log(t.replace(/\n$/, '')), columns: process.stdout.columns ?? 100 }
    const map: CoverageMap = writeResults(results, { dir: o.reportsDirectory, reporters, watermarks: o.watermarks, out })
    for (const line of checkThresholds(map, o.thresholds as VitestThresholds | undefined)) {
      process.exitCode = 1
      logger.error(line)
    }
    for (const line of this.#run?.lostTasksWarnings() ?? []) logger.error(line)
  }
}

/**
 * Test files run as threads of one process cannot be told apart in the
 * kernel (libuv's thread pool does their I/O): threads pools are allowed
 * one file at a time, then each worker thread attaches the whole process.
 */
function checkPools(ctx: Vitest): void {
  for (const project of ctx.projects) {
    const pool = project.config.pool
    if ((pool === 'threads' || pool === 'vmThreads') && (project.config.maxWorkers ?? ctx.config.maxWorkers ?? 2) > 1) {
      const name = project.name ? ` (project ${project.name})` : ''
      throw new KprobecovError('EPOOL', `pool '${pool}'${name} runs test files as threads of one process, whose kernel work cannot be told apart per file: use pool 'forks' (the default), or --no-file-parallelism`)
    }
  }
}
