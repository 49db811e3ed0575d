// The corpus' cases, one test file each, one file at a time. FIDELITY_KO is the build the
// user would have (not gcov's), FIDELITY_OUT where the reports go (one per backend).
import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kpc_fidelity', object: process.env.FIDELITY_KO ?? 'kpc_fidelity.ko' }] })],
  test: {
    include: ['cases/*.test.ts'],
    fileParallelism: false,
    coverage: { reportsDirectory: process.env.FIDELITY_OUT ?? 'coverage', reporter: ['lcovonly'] },
  },
})
