// The example's Jest suite without kernel coverage: the baseline of run-in-guest.sh.
const measured = require('../jest.config.cjs')

module.exports = { ...measured, rootDir: '..', testEnvironment: 'node', reporters: ['default'] }
