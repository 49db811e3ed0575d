/**
 * The test environment: attaches the worker process (scope 'tree': it and
 * what it starts) to a slot of the reporter's collector before each test
 * file, and at teardown hands the slot's counters to the reporter (see
 * channel.ts) and lets the slot go. With the KCOV backend it traces the
 * thread that runs the tests and libuv's pool instead.
 *
 *   testEnvironment: '@kprobecov/jest/environment'        (Node's environment)
 *   export default withKprobecov(MyEnvironment)           (your own class)
 *
 * Without the reporter (no collector shared) it is the base environment.
 */
import type { EnvironmentContext, JestEnvironment } from '@jest/environment'
import { WorkerAttachment } from '@kprobecov/core/worker'
import { TestEnvironment } from 'jest-environment-node'
import { CHANNEL_ENV, sendSample } from './channel.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's rule for mixins
type EnvironmentClass = abstract new (...args: any[]) => JestEnvironment

/** Base, with each test file's kernel coverage taken for the kprobecov reporter. */
export function withKprobecov<Base extends EnvironmentClass>(base: Base): Base {
  abstract class KprobecovEnvironment extends base {
    #testPath: string
    #attachment: WorkerAttachment | undefined

    constructor(...args: any[]) {
      super(...args)
      this.#testPath = (args[1] as EnvironmentContext).testPath
    }

    override async setup(): Promise<void> {
      await super.setup()
      const attachment = WorkerAttachment.attach('tree')
      try {
        // The probes are armed (the reporter's process arms them in the background).
        await attachment?.ready()
      } catch (e) {
        attachment?.close()
        throw e // the file fails with the reporter's line; teardown has nothing to take
      }
      this.#attachment = attachment
    }

    override async teardown(): Promise<void> {
      const attachment = this.#attachment
      this.#attachment = undefined
      try {
        if (attachment) {
          const channel = process.env[CHANNEL_ENV]
          const sample = attachment.take()
          if (channel) sendSample(channel, this.#testPath, sample)
        }
      } finally {
        attachment?.close()
        await super.teardown()
      }
    }
  }
  return KprobecovEnvironment
}

export default withKprobecov(TestEnvironment)
