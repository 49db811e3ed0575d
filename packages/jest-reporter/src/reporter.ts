/**
 * The reporter, in Jest's parent process:
 *
 *   constructor   options checked, modules read and planned, the collector
 *                 sized; it and the file channel shared with the workers
 *                 through their environment (a setup error ends the run
 *                 here, before any test, with one line); the probes are
 *                 planted and armed in the background while Jest starts its
 *                 workers, whose environment waits for them (a failure ends
 *                 the run with its line, and fails the files that started)
 *   onRunStart    samples forgotten (each run in watch mode starts afresh)
 *   onTestFileResult  the file's sample taken from the channel
 *   onRunComplete reports written (<outputDirectory>/, per-test/,
 *                 tests-by-line.json), text printed, thresholds checked:
 *                 unmet ones fail the run (getLastError)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  DEFAULT_OUT, TestRun, exitOnSetupError, resolveKprobecovOptions, writeResults,
  type KprobecovOptions, type ReporterSpec,
} from '@kprobecov/core'
import type { Config, Reporter, Test } from '@jest/reporters'
import type { TestResult } from '@jest/test-result'
import type { Watermarks } from 'istanbul-lib-report'
import { CHANNEL_ENV, receiveSample } from './channel.ts'
import { checkThresholds, type CoverageThreshold } from './thresholds.ts'

// An alias (see KprobecovOptions): a variable of this type fits Jest's `reporters`.
export type KprobecovReporterOptions = KprobecovOptions & {
  /** Default 'coverage/kernel', relative to Jest's rootDir. */
  outputDirectory?: string
  /** istanbul reporters, as Jest's coverageReporters; default Jest's: clover, json, lcov, text. */
  coverageReporters?: ReporterSpec[]
  /** As Jest's coverageThreshold, over the kernel sources. */
  coverageThreshold?: CoverageThreshold
  watermarks?: Partial<Watermarks>
  /** Globs over kernel source paths (relative to rootDir) to keep / drop. */
  include?: string[]
  exclude?: string[]
  /** Keep kernel sources outside rootDir (headers); default false. */
  allowExternal?: boolean
}

const WHERE = "@kprobecov/jest options (reporters: [['@kprobecov/jest', { ... }]] in the Jest config)"

export default class KprobecovReporter implements Reporter {
  readonly #options: KprobecovReporterOptions
  readonly #root: string
  readonly #run: TestRun
  readonly #channel: string
  #error: Error | undefined

  constructor(globalConfig: Config.GlobalConfig, options: KprobecovReporterOptions) {
    this.#root = globalConfig.rootDir
    this.#options = options ?? ({} as KprobecovReporterOptions)
    try {
      const resolved = resolveKprobecovOptions(this.#options, this.#root, WHERE)
      const o = this.#options
      this.#run = TestRun.open({
        ...resolved,
        root: this.#root,
        ...(o.include ? { include: o.include } : {}),
        ...(o.exclude ? { exclude: o.exclude } : {}),
        allowExternal: o.allowExternal ?? false,
      })
    } catch (e) {
      exitOnSetupError(e)
    }
    this.#channel = mkdtempSync(path.join(tmpdir(), 'kprobecov-jest-'))
    Object.assign(process.env, this.#run.env)
    this.#run.armed.catch(exitOnSetupError)
    process.env[CHANNEL_ENV] = this.#channel
    process.once('exit', () => rmSync(this.#channel, { recursive: true, force: true }))
  }

  onRunStart(): void {
    this.#run.clearSamples()
    this.#error = undefined
  }

  onTestFileResult(_test: Test, result: TestResult): void {
    const sample = receiveSample(this.#channel, result.testFilePath)
    if (sample) this.#run.addSample(result.testFilePath, sample)
  }

  async onRunComplete(): Promise<void> {
    await this.#run.armed // a run without tests can end before
    const o = this.#options
    const dir = path.resolve(this.#root, o.outputDirectory ?? DEFAULT_OUT)
    const reporters = o.coverageReporters ?? ['clover', 'json', 'lcov', 'text']
    const map = writeResults(this.#run.results(), {
      dir, reporters, out: { write: (t) => process.stdout.write(t), columns: process.stdout.columns ?? 100 },
      ...(o.watermarks ? { watermarks: o.watermarks } : {}),
    })
    process.stdout.write(`kprobecov: kernel coverage in ${path.relative(process.cwd(), dir) || '.'}/\n`)
    const failures = checkThresholds(map, o.coverageThreshold, this.#root)
    for (const line of failures) process.stderr.write(`${line}\n`)
    for (const line of this.#run.lostTasksWarnings()) process.stderr.write(`${line}\n`)
    if (failures.length > 0) this.#error = new Error(`kprobecov: kernel coverage thresholds not met (${failures.length})`)
  }

  /** Jest fails the run when a reporter has an error to give. */
  getLastError(): Error | undefined {
    return this.#error
  }
}
