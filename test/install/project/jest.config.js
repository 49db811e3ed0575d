module.exports = {
  testEnvironment: '@kprobecov/jest/environment',
  reporters: ['default', ['@kprobecov/jest', { modules: [{ name: 'kpcdemo', object: './driver/kpcdemo.ko' }] }]],
  testMatch: ['<rootDir>/jest/**/*.test.js'],
}
