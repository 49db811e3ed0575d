import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kvstore', object: './driver/kvstore.ko' }] })],
  test: {
    include: ['test/vitest/**/*.test.ts'],
    coverage: { reportsDirectory: 'coverage/vitest', reporter: ['text', 'text-summary', 'html', 'lcovonly', 'json'] },
  },
})
