// The example's Jest suite as the KCOV backend's guest suite runs it
// (packages/core/test/kcov/run-in-guest.sh): the driver built against the debug kernel
// ($KPROBECOV_KVSTORE_KO), the backend from $KPROBECOV_BACKEND (read by @kprobecov/core),
// reports per backend in coverage/jest-<backend>.
const path = require('node:path')

const backend = process.env.KPROBECOV_BACKEND ?? 'auto'

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: '@kprobecov/jest/environment',
  reporters: [
    'default',
    ['@kprobecov/jest', {
      modules: [{ name: 'kvstore', object: process.env.KPROBECOV_KVSTORE_KO ?? './driver/kvstore.ko' }],
      outputDirectory: `coverage/jest-${backend}`, coverageReporters: ['text-summary', 'lcov'],
    }],
  ],
  testMatch: ['<rootDir>/test/jest/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
}
