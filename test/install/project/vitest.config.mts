import { defineConfig } from 'vitest/config'
import kprobecov from '@kprobecov/vitest'

export default defineConfig({
  plugins: [kprobecov({ modules: [{ name: 'kpcdemo', object: './driver/kpcdemo.ko' }] })],
  test: {
    include: ['test/**/*.test.ts'],
    coverage: { reporter: ['text', 'lcovonly', 'json'] },
  },
})
