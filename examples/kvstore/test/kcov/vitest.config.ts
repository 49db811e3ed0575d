// The example's Vitest suite as the KCOV backend's guest suite runs it
// (packages/core/test/kcov/run-in-guest.sh): the driver built against the debug kernel
// ($KPROBECOV_KVSTORE_KO), the backend from $KPROBECOV_BACKEND (read by @kprobecov/core),
// reports per backend in coverage/vitest-<backend>.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

const backend = process.env.KPROBECOV_BACKEND ?? 'auto'

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  plugins: [kprobecov({ modules: [{ name: 'kvstore', object: process.env.KPROBECOV_KVSTORE_KO ?? './driver/kvstore.ko' }] })],
  test: {
    include: ['test/vitest/**/*.test.ts'],
    coverage: { reportsDirectory: `coverage/vitest-${backend}`, reporter: ['text-summary', 'lcov'] },
  },
})
