// The example's Jest config with the kernel reports of each shard in a directory of its
// own (coverage/jest-shard-$KVSTORE_SHARD), as a CI job per shard would keep them before
// `kprobecov merge` (guest test of --shard).
const config = require('../../jest.config.cjs')

const [name, options] = config.reporters[1]
module.exports = {
  ...config,
  rootDir: '../..',
  reporters: ['default', [name, { ...options, outputDirectory: `coverage/jest-shard-${process.env.KVSTORE_SHARD}` }]],
}
