// A TypeScript user's Jest configuration, checked with tsc (skipLibCheck off) against the
// installed packages' types: @kprobecov/jest's are Jest's own, from the Jest installed here.
import type { Config } from 'jest'
import KprobecovReporter, { withKprobecov, type KprobecovReporterOptions } from '@kprobecov/jest'
import { TestEnvironment } from 'jest-environment-node'

export default {
  testEnvironment: '@kprobecov/jest/environment',
  reporters: ['default', ['@kprobecov/jest', {
    modules: [{ name: 'kpcdemo', object: './driver/kpcdemo.ko' }],
    coverageThreshold: { global: { lines: 50 } },
  } satisfies KprobecovReporterOptions]],
} satisfies Config

// The options kept in a variable of our type fit Jest's reporter options too.
const kernel: KprobecovReporterOptions = { modules: [{ name: 'kpcdemo', object: './driver/kpcdemo.ko' }] }
export const shared = { reporters: [['@kprobecov/jest', kernel]] } satisfies Config

// A file's result as the reporter takes it is Jest's TestResult.
export const fileOf = (result: Parameters<KprobecovReporter['onTestFileResult']>[1]): string => result.testFilePath
export const Environment = withKprobecov(TestEnvironment)
