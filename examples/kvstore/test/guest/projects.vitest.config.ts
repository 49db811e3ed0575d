// The example's Vitest config split into two projects (guest test of several projects):
// the kernel coverage of both comes in one report.
import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kvstore', object: './driver/kvstore.ko' }] })],
  test: {
    coverage: { reportsDirectory: 'coverage/vitest-projects', reporter: ['lcovonly'] },
    projects: [
      { extends: true, test: { name: 'store', include: ['test/vitest/store.test.ts'] } },
      { extends: true, test: { name: 'errors-and-stats', include: ['test/vitest/errors.test.ts', 'test/vitest/stats.test.ts'] } },
    ],
  },
})
