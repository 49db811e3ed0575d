/**
 * Everything one test run leaves in its coverage directory:
 *
 *   <dir>/                      the reporters' output for the merged coverage
 *   <dir>/per-test/<test file>/ lcov.info and coverage-final.json of one test file
 *                               (<test file>: its path relative to the root)
 *   <dir>/tests-by-line.json    { "<file>:<line>": [test files that ran it] }
 *   <dir>/not-instrumented.json lines whose probes the kernel refused (if given)
 *
 * All of it is written into a temporary directory beside <dir> that replaces
 * <dir> at the end: a failed run leaves the previous output, never a part.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import type { Watermarks } from 'istanbul-lib-report'
import type { NotInstrumentedLine } from '../coverage/coverage-map.ts'
import { writeReports, type ReporterSpec } from './reports.ts'

export interface RunOutputs {
  dir: string
  merged: CoverageMap
  /** Coverage of each test file, keyed by the test file's path relative to the root. */
  perTest: ReadonlyMap<string, CoverageMap>
  /** Reporters for the merged coverage; per test file: always lcovonly + json. */
  reporters: readonly ReporterSpec[]
  root: string
  watermarks?: Partial<Watermarks>
  notInstrumented?: readonly NotInstrumentedLine[]
}

export function writeRunOutputs(outputs: RunOutputs): void {
  writeDirectoryAtomically(outputs.dir, (tmp) => {
    const common = { root: outputs.root, ...(outputs.watermarks ? { watermarks: outputs.watermarks } : {}) }
    writeReports(outputs.merged, { ...common, dir: tmp, reporters: outputs.reporters })
    for (const [test, map] of outputs.perTest) {
      writeReports(map, { ...common, dir: path.join(tmp, 'per-test', testDir(test)), reporters: ['lcovonly', 'json'] })
    }
    writeFileSync(path.join(tmp, 'tests-by-line.json'), JSON.stringify(testsByLine(outputs.perTest), null, 2) + '\n')
    if (outputs.notInstrumented) {
      writeFileSync(path.join(tmp, 'not-instrumented.json'), JSON.stringify(outputs.notInstrumented, null, 2) + '\n')
    }
  })
}

/**
 * Fills a new temporary directory and then puts it in the place of `dir`
 * (created, or replaced as a whole): when `fill` throws, `dir` stays as it was
 * and nothing is left behind.
 *
 * `fill` writes into the temporary directory beside `dir` directly: the
 * report writers write each file whole (see reports.ts), which on a network
 * file system (NFS, 9p) is what matters; rendering elsewhere and copying
 * would create every file twice.
 */
export function writeDirectoryAtomically(dir: string, fill: (tmp: string) => void): void {
  const target = path.resolve(dir)
  const parent = path.dirname(target)
  mkdirSync(parent, { recursive: true })
  const tmp = mkdtempSync(path.join(parent, `.${path.basename(target)}.tmp-`))
  try {
    fill(tmp)
    replaceDir(tmp, target)
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  }
}

/** `file:line` of every line with a hit → the sorted test files that hit it; keys by file, then line. */
export function testsByLine(perTest: ReadonlyMap<string, CoverageMap>): Record<string, string[]> {
  // A test file meets each (file, line) once: lists, not sets.
  const byLine = new Map<string, Map<number, string[]>>()
  for (const [test, map] of perTest) {
    for (const file of map.files()) {
      const lines = map.fileCoverageFor(file).getLineCoverage() as Record<string, number>
      let forFile: Map<number, string[]> | undefined
      for (const line in lines) {
        if (!(lines[line]! > 0)) continue
        if (!forFile) {
          forFile = byLine.get(file)
          if (!forFile) byLine.set(file, (forFile = new Map()))
        }
        const n = Number(line)
        const tests = forFile.get(n)
        if (tests) tests.push(test)
        else forFile.set(n, [test])
      }
    }
  }
  const out: Record<string, string[]> = {}
  for (const file of [...byLine.keys()].sort()) {
    const forFile = byLine.get(file)!
    for (const line of [...forFile.keys()].sort((a, b) => a - b)) {
      out[`${file}:${line}`] = forFile.get(line)!.sort()
    }
  }
  return out
}

/**
 * The directory of a test file's outputs under per-test/: its path relative to
 * the root; a path outside the root keeps its shape under `_outside/`.
 */
export function testDir(test: string): string {
  const posix = test.split(path.sep).join('/')
  const norm = path.posix.normalize(posix)
  if (!path.posix.isAbsolute(norm) && norm !== '..' && !norm.startsWith('../') && norm !== '.') return norm
  const parts = norm.split('/').filter((p) => p !== '' && p !== '.').map((p) => (p === '..' ? '__' : p))
  return path.posix.join('_outside', ...parts)
}

function replaceDir(tmp: string, dir: string): void {
  if (!existsSync(dir)) {
    renameSync(tmp, dir)
    return
  }
  const old = mkdtempSync(path.join(path.dirname(dir), `.${path.basename(dir)}.old-`))
  const aside = path.join(old, 'previous')
  renameSync(dir, aside)
  try {
    renameSync(tmp, dir)
  } catch (e) {
    renameSync(aside, dir)
    rmSync(old, { recursive: true, force: true })
    throw e
  }
  rmSync(old, { recursive: true, force: true })
}
