/**
 * @kprobecov/jest: kernel coverage for Jest.
 *
 *   testEnvironment: '@kprobecov/jest/environment',
 *   reporters: ['default', ['@kprobecov/jest', { modules: [{ name: 'kvstore', object: './kvstore.ko' }] }]],
 */
export { default } from './reporter.ts'
export type { KprobecovReporterOptions } from './reporter.ts'
export { withKprobecov } from './environment.ts'
