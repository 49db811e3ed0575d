// The corpus' cases, one test file each, one file at a time, in one worker (isolate: false:
// no new module graph per file; the worker still hands its counters over after each file, so
// per-test-file reports hold). FIDELITY_KO is the build the user would have (not gcov's),
// FIDELITY_OUT where the reports go (one per backend).
import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kpc_fidelity', object: process.env.FIDELITY_KO ?? 'kpc_fidelity.ko' }] })],
  test: {
    include: ['cases/*.test.ts'],
    fileParallelism: false,
    isolate: false,
    coverage: { reportsDirectory: process.env.FIDELITY_OUT ?? 'coverage', reporter: ['lcovonly'] },
  },
})
