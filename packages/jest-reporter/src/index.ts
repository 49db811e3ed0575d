/**
 * @kprobecov/jest: kernel coverage for Jest.
 *
 *   testEnvironment: '@kprobecov/jest/environment',
 *   reporters: ['default', ['@kprobecov/jest', { modules: [{ name: 'kvstore', object: './kvstore.ko' }] }]],
 */
import { createRequire } from 'node:module'
import { extname } from 'node:path'

export { default } from './reporter.ts'
export type { KprobecovReporterOptions } from './reporter.ts'

type Environment = typeof import('./environment.ts')

/**
 * See environment.ts. Loaded when called: Jest loads this module (the
 * reporter) in its main process, where no test environment runs unless the
 * tests run in band, and jest-environment-node is a large tree of modules.
 */
export const withKprobecov: Environment['withKprobecov'] = (base) =>
  (createRequire(import.meta.url)(`./environment${extname(import.meta.url)}`) as Environment).withKprobecov(base)
