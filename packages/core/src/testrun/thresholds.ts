/**
 * Coverage thresholds, as Vitest and Jest read them: a positive number is
 * the least percentage covered, a negative one the most items left
 * uncovered. How files are grouped (global, per glob, per file) is each
 * front end's; this checks one summary against one set.
 */
import type { CoverageSummary } from 'istanbul-lib-coverage'

export type Metric = 'lines' | 'functions' | 'branches' | 'statements'
export const METRICS: readonly Metric[] = ['lines', 'functions', 'branches', 'statements']

export type Thresholds = Partial<Record<Metric, number>>

export interface ThresholdViolation {
  metric: Metric
  /** As configured. */
  threshold: number
  /** 'percent': actual is the percentage covered; 'uncovered': the count left uncovered. */
  kind: 'percent' | 'uncovered'
  actual: number
}

export function thresholdViolations(summary: CoverageSummary, thresholds: Thresholds): ThresholdViolation[] {
  const out: ThresholdViolation[] = []
  for (const metric of METRICS) {
    const threshold = thresholds[metric]
    if (threshold === undefined) continue
    const data = summary.data[metric]
    if (threshold >= 0) {
      // istanbul says 'Unknown' for 0 of 0: nothing to cover meets any threshold
      const pct = typeof data.pct === 'number' ? data.pct : 100
      if (pct < threshold) out.push({ metric, threshold, kind: 'percent', actual: pct })
    } else {
      const uncovered = data.total - data.covered
      if (uncovered > -threshold) out.push({ metric, threshold, kind: 'uncovered', actual: uncovered })
    }
  }
  return out
}
