/**
 * Jest's coverageThreshold over the kernel coverage, with Jest's semantics
 * and messages: "global" for the files no other key takes; a glob key for
 * each matching file on its own; a path key (a file or a directory,
 * relative to the root) for its files together. Positive: least percent;
 * negative: most uncovered.
 */
import libCoverage, { type CoverageMap } from 'istanbul-lib-coverage'
import path from 'node:path'
import { createRequire } from 'node:module'
import type picomatchType from 'picomatch'
import { thresholdViolations, type Thresholds } from '@kprobecov/core'

/** picomatch, loaded for thresholds keyed by glob only (the reporter's process loads this module in every run). */
const picomatch = () => createRequire(import.meta.url)('picomatch') as typeof picomatchType

export type CoverageThreshold = Record<string, Thresholds>

/** The failures, one line each, in Jest's words; empty when every threshold is met. */
export function checkThresholds(map: CoverageMap, thresholds: CoverageThreshold | undefined, root: string): string[] {
  if (!thresholds) return []
  const files = map.files()
  const taken = new Set<string>()
  const errors: string[] = []
  const check = (name: string, files: string[], limits: Thresholds) => {
    const sub = libCoverage.createCoverageMap({})
    for (const f of files) sub.addFileCoverage(map.fileCoverageFor(f))
    for (const v of thresholdViolations(sub.getCoverageSummary(), limits)) {
      errors.push(v.kind === 'percent'
        ? `Jest: "${name}" coverage threshold for ${v.metric} (${v.threshold}%) not met: ${v.actual}%`
        : `Jest: Uncovered count for ${v.metric} (${v.actual}) exceeds ${name === 'global' ? 'global' : `"${name}"`} threshold (${-v.threshold})`)
    }
  }
  for (const [key, limits] of Object.entries(thresholds)) {
    if (key === 'global') continue
    if (picomatch().scan(key).isGlob) {
      const match = picomatch()(key, { dot: true })
      const matched = files.filter((f) => match(f) || match(path.resolve(root, f)))
      if (matched.length === 0) errors.push(`Jest: Coverage data for ${key} was not found.`)
      for (const f of matched) {
        taken.add(f)
        check(f, [f], limits)
      }
    } else {
      const abs = path.resolve(root, key)
      const matched = files.filter((f) => {
        const p = path.resolve(root, f)
        return p === abs || p.startsWith(abs + path.sep)
      })
      if (matched.length === 0) errors.push(`Jest: Coverage data for ${key} was not found.`)
      matched.forEach((f) => taken.add(f))
      if (matched.length > 0) check(key, matched, limits)
    }
  }
  if (thresholds.global) check('global', files.filter((f) => !taken.has(f)), thresholds.global)
  return errors
}
