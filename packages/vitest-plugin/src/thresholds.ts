/**
 * Vitest's coverage thresholds over the kernel coverage, with Vitest's
 * semantics and messages: global numbers (or 100: true) for all files
 * together; perFile: true for each file instead, perFile: {...} for each file
 * as well; '<glob>': {...} for the files whose report path matches, together
 * or (its own perFile) each. Positive: least percent; negative: most uncovered.
 */
import libCoverage, { type CoverageMap, type CoverageSummary } from 'istanbul-lib-coverage'
import { createRequire } from 'node:module'
import type picomatchType from 'picomatch'
import { thresholdViolations, type Thresholds } from '@kprobecov/core'

/** picomatch, loaded for thresholds keyed by glob only (the reporter's process loads this module in every run). */
const picomatch = () => createRequire(import.meta.url)('picomatch') as typeof picomatchType

type Limits = Thresholds & { 100?: boolean }
type PerFile = boolean | Limits
export type VitestThresholds = Limits & { perFile?: PerFile; autoUpdate?: unknown } & Record<string, unknown>

const KEYS = new Set(['lines', 'functions', 'branches', 'statements', '100', 'perFile', 'autoUpdate'])

function limitsOf(o: Limits): Thresholds {
  if (o[100] === true) return { lines: 100, functions: 100, branches: 100, statements: 100 }
  const t: Thresholds = {}
  for (const k of ['lines', 'functions', 'branches', 'statements'] as const) if (typeof o[k] === 'number') t[k] = o[k]
  return t
}

interface Group {
  label: string
  map: CoverageMap
  limits: Thresholds
  perFile: PerFile
}

/** The failures, one line each, in Vitest's words; empty when every threshold is met. */
export function checkThresholds(map: CoverageMap, thresholds: VitestThresholds | undefined): string[] {
  if (!thresholds) return []
  const files = map.files()
  const groups: Group[] = [{ label: 'global', map, limits: limitsOf(thresholds), perFile: thresholds.perFile ?? false }]
  for (const [glob, entry] of Object.entries(thresholds)) {
    if (KEYS.has(glob) || typeof entry !== 'object' || entry === null) continue
    const match = picomatch()(glob, { dot: true })
    const sub = libCoverage.createCoverageMap({})
    for (const f of files) if (match(f)) sub.addFileCoverage(map.fileCoverageFor(f))
    const e = entry as Limits & { perFile?: PerFile }
    groups.push({ label: `"${glob}"`, map: sub, limits: limitsOf(e), perFile: e.perFile ?? false })
  }
  const errors: string[] = []
  const check = (summary: CoverageSummary, limits: Thresholds, label: string, file?: string) => {
    for (const v of thresholdViolations(summary, limits)) {
      const where = file === undefined ? '' : ` for ${file}`
      errors.push(v.kind === 'percent'
        ? `ERROR: Coverage for ${v.metric} (${v.actual}%) does not meet ${label} threshold (${v.threshold}%)${where}`
        : `ERROR: Uncovered ${v.metric} (${v.actual}) exceed ${label} threshold (${-v.threshold})${where}`)
    }
  }
  for (const g of groups) {
    const each = g.map.files().sort()
    if (g.perFile === true) {
      for (const f of each) check(g.map.fileCoverageFor(f).toSummary(), g.limits, g.label, f)
    } else {
      check(g.map.getCoverageSummary(), g.limits, g.label)
      if (typeof g.perFile === 'object') for (const f of each) check(g.map.fileCoverageFor(f).toSummary(), limitsOf(g.perFile), 'per-file', f)
    }
  }
  return errors
}
