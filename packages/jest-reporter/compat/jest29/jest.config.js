// The example's cases under Jest 29, configured as the README shows.
module.exports = {
  testEnvironment: '@kprobecov/jest/environment',
  reporters: ['default', ['@kprobecov/jest', { modules: [{ name: 'kvstore', object: '../../../../examples/kvstore/driver/kvstore.ko' }], allowExternal: true }]],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
}
