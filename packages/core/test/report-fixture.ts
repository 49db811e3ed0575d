/**
 * A fixed run whose outputs are compared byte for byte with
 * test/fixtures/run-outputs/ (reports-golden.test.ts): the merged reports of
 * every file reporter, per-test lcov.info and coverage-final.json, and
 * tests-by-line.json (and, in run-outputs.console.txt, what the console
 * reporters print), on the plan of FAKE debug info whose sources (one file
 * inside the root, one header outside it) are written under a base directory.
 *
 * The expected files were written by the code before the report writers were
 * made faster; regenerate them only for an intended change of the outputs:
 *
 *   node packages/core/test/report-fixture.ts --write packages/core/test/fixtures/run-outputs
 *
 * Comparisons go through normalise(): the base directory (a temporary one)
 * becomes <BASE>, and the time stamps of the HTML, cobertura and clover
 * reports become <TIME>.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { CoverageMap } from 'istanbul-lib-coverage'
import { planProbes } from '../src/plan/plan.ts'
import { createCoverageMapper } from '../src/coverage/coverage-map.ts'
import { mergeCoverageMaps } from '../src/coverage/merge.ts'
import { writeRunOutputs } from '../src/reports/run-outputs.ts'
import { printReports } from '../src/reports/console.ts'
import type { ReporterSpec } from '../src/reports/reports.ts'
import { fakeDebugInfo } from './fake-debuginfo.ts'

const COUNTS = [5n, 3n, 2n, 4n, 4n, 0n, 1n, 0n, 1n, 1n, 2n, 3n, 6n, 0n, 6n]

export const FIXTURE_REPORTERS: readonly ReporterSpec[] = [
  'lcov', ['lcovonly', { file: 'only.info' }], ['html', { subdir: 'html' }], ['text', { file: 'coverage.txt' }],
  ['text-summary', { file: 'summary.txt' }], 'json', 'json-summary', 'cobertura', 'clover',
]

/**
 * Writes the fixture run into `<base>/coverage` (sources under `<base>/repo`
 * and `<base>/include`); returns that directory and what the console
 * reporters (text, text-summary) print for the merged coverage.
 */
export function writeFixtureRun(base: string): { dir: string; printed: string } {
  const root = path.join(base, 'repo')
  const src = path.join(root, 'drv', 'fake.c')
  const hdr = path.join(base, 'include', 'linux', 'hdr.h')
  mkdirSync(path.dirname(src), { recursive: true })
  mkdirSync(path.dirname(hdr), { recursive: true })
  writeFileSync(src, Array.from({ length: 70 }, (_, i) => `\tfake_line_${i + 1}(); /* <&> "q" 'a' */`).join('\n') + '\n')
  writeFileSync(hdr, Array.from({ length: 120 }, (_, i) => `header_line_${i + 1}`).join('\n') + '\n')
  const di = fakeDebugInfo()
  di.files = ['', src, hdr]
  const plan = planProbes([{ target: { name: 'fakemod' }, debugInfo: di }], { root })
  const mapper = createCoverageMapper(plan, (i) => i === 7, { root })
  const perTest = new Map<string, CoverageMap>([
    ['test/a.test.ts', mapper.toCoverageMap(COUNTS.map((c, i) => (i < 3 ? c : 0n)))],
    ['test/sub/b.test.ts', mapper.toCoverageMap(COUNTS.map((c, i) => (i >= 2 ? c : 0n)))],
    ['test/none.test.ts', mapper.toCoverageMap(COUNTS.map(() => 0n))],
    ['../elsewhere/c.test.ts', mapper.toCoverageMap(COUNTS.map((c, i) => (i % 2 === 0 ? c * 1000n : 0n)))],
  ])
  const dir = path.join(base, 'coverage')
  const merged = mergeCoverageMaps(perTest.values())
  const watermarks = { lines: [40, 70] as [number, number], branches: [30, 60] as [number, number] }
  writeRunOutputs({ dir, merged, perTest, reporters: FIXTURE_REPORTERS, root, watermarks, notInstrumented: mapper.notInstrumented })
  let printed = ''
  printReports(merged, ['text', 'text-summary'], root, { write: (t) => (printed += t), columns: 100 }, watermarks)
  return { dir, printed }
}

/** Every file under dir (relative path, sorted) → its bytes (as latin1 text), normalised. */
export function readTree(dir: string, base: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
  return new Map(files.map((f) => [f, normalise(readFileSync(path.join(dir, f), 'latin1'), base)]))
}

/**
 * The static files istanbul-reports' html report copies beside its pages, by
 * name, with their place in istanbul-reports: not kept in the fixture (they are
 * istanbul's own files); outputs are checked to hold them unchanged.
 */
export const HTML_ASSETS: Record<string, string> = {
  'base.css': 'base.css', 'block-navigation.js': 'block-navigation.js', 'favicon.png': 'favicon.png',
  'sort-arrow-sprite.png': 'sort-arrow-sprite.png', 'sorter.js': 'sorter.js',
  'prettify.css': 'vendor/prettify.css', 'prettify.js': 'vendor/prettify.js',
}

/** The tree without the html reports' static files (those at the top of html/ and lcov-report/). */
export function withoutAssets(tree: Map<string, string>): { pages: Map<string, string>; assets: Map<string, string> } {
  const pages = new Map<string, string>()
  const assets = new Map<string, string>()
  for (const [f, text] of tree) {
    const [dir, name, more] = f.split('/')
    const isAsset = more === undefined && name !== undefined && (dir === 'html' || dir === 'lcov-report') && name in HTML_ASSETS
    ;(isAsset ? assets : pages).set(f, text)
  }
  return { pages, assets }
}

export function normalise(text: string, base: string): string {
  return text.split(base).join('<BASE>')
    .replace(/(Code coverage generated by\s*<a [^>]*>istanbul<\/a>\s*at )(?:<TIME>|[^\n<]*)/g, '$1<TIME>')
    .replace(/\b(timestamp|generated)="(?:\d+|<TIME>)"/g, '$1="<TIME>"')
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  if (args[0] !== '--write' || !args[1]) throw new Error('usage: report-fixture.ts --write DIR')
  const out = path.resolve(args[1])
  const base = mkdtempSync(path.join(os.tmpdir(), 'kpc-fixture-'))
  try {
    const { dir, printed } = writeFixtureRun(base)
    const tree = withoutAssets(readTree(dir, base)).pages
    rmSync(out, { recursive: true, force: true })
    for (const [f, text] of tree) {
      mkdirSync(path.dirname(path.join(out, f)), { recursive: true })
      writeFileSync(path.join(out, f), text, 'latin1')
    }
    writeFileSync(`${out}.console.txt`, normalise(printed, base))
    console.log(`${tree.size} files in ${out}, and ${out}.console.txt`)
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}
