/**
 * What Vitest loads as `customProviderModule`: getProvider() in the main
 * process (loaded lazily, with planning and reports), and the worker hooks,
 * which only reach the shared collector.
 */
import type { CoverageProviderModule } from 'vitest/node'
import { startCoverage, stopCoverage, takeCoverage } from './worker.ts'

const providerModule: CoverageProviderModule = {
  async getProvider() {
    const { KprobeCoverageProvider } = await import('./provider.ts')
    return new KprobeCoverageProvider()
  },
  startCoverage,
  takeCoverage,
  stopCoverage,
}

export default providerModule
