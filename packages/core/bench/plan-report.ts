/**
 * Host-side cost of a coverage run for a module of about 10,000 lines (the one
 * native/tests/gen_big.sh generates, built with kbuild): reading its debug info,
 * planning probes, turning counters into a CoverageMap, and writing reports.
 *
 *   node packages/core/bench/plan-report.ts [--runs N] [--json] [MODULE.ko]
 *
 * Default module: build/native/big/kpc_big.ko (built with `make -C native` when
 * missing). Prints one Markdown table (best and median of N runs, default 5),
 * or with --json one JSON object.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { planProbes } from '../src/plan/plan.ts'
import { createCoverageMapper } from '../src/coverage/coverage-map.ts'
import { mergeCoverageMaps } from '../src/coverage/merge.ts'
import { writeReports, type ReporterSpec } from '../src/reports/reports.ts'
import { writeRunOutputs } from '../src/reports/run-outputs.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const args = process.argv.slice(2)
let runs = 5
let asJson = false
let ko = path.join(root, 'build/native/big/kpc_big.ko')
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === '--runs') runs = Number(args[++i])
  else if (a === '--json') asJson = true
  else ko = path.resolve(a)
}
if (!(runs >= 1)) throw new Error('--runs needs a positive number')
if (!existsSync(ko)) {
  execFileSync('make', ['-s', '-C', path.join(root, 'native'), 'all', ko], { stdio: 'inherit' })
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now()
  const v = fn()
  return [v, performance.now() - t0]
}

const samples = new Map<string, number[]>()
const record = (name: string, ms: number) => samples.set(name, [...(samples.get(name) ?? []), ms])
let facts: Record<string, number> = {}
const out = mkdtempSync(path.join(os.tmpdir(), 'kpc-bench-'))
try {
  for (let run = 0; run < runs; run++) {
    const [di, tLoad] = time(() => loadDebugInfo(ko))
    record('read debug info (loadDebugInfo)', tLoad)
    const target = { name: di.moduleName, granularity: 'branch' as const }
    const [plan, tPlan] = time(() => planProbes([{ target, debugInfo: di }], { root }))
    record('plan probes (branch granularity)', tPlan)
    // Deterministic counts: about two thirds of the probes hit.
    const counts = BigUint64Array.from(plan.probes, (_, i) => BigInt(i % 3 === 0 ? 0 : i % 17))
    const [map, tMap] = time(() => createCoverageMapper(plan, undefined, { root }).toCoverageMap(counts))
    record('counters → CoverageMap', tMap)
    const dir = path.join(out, `r${run}`)
    const reporters: ReporterSpec[] = ['lcovonly', 'json', 'json-summary', ['text-summary', { file: 'summary.txt' }], 'cobertura', 'html']
    const [, tReports] = time(() => writeReports(map, { dir, root, reporters }))
    record('reports: lcov, json, json-summary, text-summary, cobertura, html', tReports)
    const mapper = createCoverageMapper(plan, undefined, { root })
    const [, tRun] = time(() => {
      const perTest = new Map(Array.from({ length: 20 }, (_, t) =>
        [`test/t${t}.test.ts`, mapper.toCoverageMap(counts.map((c, i) => ((i + t) % 5 === 0 ? c : 0n)))]))
      writeRunOutputs({ dir: path.join(out, `run${run}`), merged: mergeCoverageMaps(perTest.values()), perTest, reporters: ['lcovonly', 'json'], root })
    })
    record('run outputs for 20 test files (maps, merge, per-test lcov+json, tests-by-line)', tRun)
    const lines = new Set(plan.probes.flatMap((p) => p.lines.map(([f, l]) => `${f}:${l}`)))
    facts = {
      functions: plan.functions.length, probes: plan.probes.length, lines: lines.size, branches: plan.branches.length,
      perLineProbes: planProbes([{ target, debugInfo: di }], { root, strategy: 'line' }).probes.length,
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true })
}

const stats = [...samples].map(([name, ms]) => {
  const sorted = [...ms].sort((a, b) => a - b)
  return { name, best: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]! }
})
if (asJson) {
  console.log(JSON.stringify({ module: path.relative(root, ko), runs, ...facts, timings: stats }, null, 2))
} else {
  console.log(`Module ${path.relative(root, ko)}: ${facts.functions} functions, ${facts.lines} lines, ` +
    `${facts.probes} probes (per-line planning: ${facts.perLineProbes}), ${facts.branches} branches; ` +
    `Node ${process.version}, ${runs} runs.\n`)
  console.log('| step | best (ms) | median (ms) |\n| --- | ---: | ---: |')
  for (const s of stats) console.log(`| ${s.name} | ${s.best.toFixed(1)} | ${s.median.toFixed(1)} |`)
}
