module.exports = {
  testEnvironment: '@kprobecov/jest/environment',
  reporters: [
    'default',
    ['@kprobecov/jest', { modules: [{ name: 'kvstore', object: './driver/kvstore.ko' }], outputDirectory: 'coverage/jest' }],
  ],
  testMatch: ['<rootDir>/test/jest/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
}
