/**
 * What Vitest loads as `customProviderModule`: getProvider() in the main
 * process (loaded lazily, with planning and reports), and the worker hooks,
 * which only reach the shared collector.
 *
 * Vitest loads this file through its module runner, which would also run
 * everything it imports from outside node_modules (the case of a workspace)
 * through Vite's transforms, and evaluate it afresh for each isolated test
 * file. The rest of kprobecov is loaded with Node's own loader instead
 * (require of ES modules, Node >= 22.12): once per process, untransformed.
 */
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import type { CoverageProviderModule } from 'vitest/node'

const load = createRequire(import.meta.url)
const ext = extname(import.meta.url) // .js once built, .ts in the sources
const worker = load(`./worker${ext}`) as typeof import('./worker.ts')

const providerModule: CoverageProviderModule = {
  getProvider() {
    const { KprobeCoverageProvider } = load(`./provider${ext}`) as typeof import('./provider.ts')
    return new KprobeCoverageProvider()
  },
  startCoverage: worker.startCoverage,
  takeCoverage: worker.takeCoverage,
  stopCoverage: worker.stopCoverage,
}

export default providerModule
