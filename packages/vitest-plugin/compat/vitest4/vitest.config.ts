import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

// The example's cases under Vitest 4; report paths stay relative to the example.
export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kvstore', object: '../../../../examples/kvstore/driver/kvstore.ko' }] })],
  test: {
    include: ['test/**/*.test.ts'],
    coverage: { reportsDirectory: 'coverage', reporter: ['text-summary', 'lcov'], allowExternal: true },
  },
})
