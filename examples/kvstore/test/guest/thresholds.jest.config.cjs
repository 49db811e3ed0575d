// The example's Jest config with a kernel line threshold it cannot meet (guest test of
// failing thresholds).
const config = require('../../jest.config.cjs')

const [name, options] = config.reporters[1]
module.exports = {
  ...config,
  rootDir: '../..',
  reporters: ['default', [name, { ...options, outputDirectory: 'coverage/jest-thresholds', coverageThreshold: { global: { lines: 95 } } }]],
}
