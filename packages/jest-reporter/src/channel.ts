/**
 * The file channel between the test environment (in a Jest worker) and the
 * reporter (in Jest's parent process): one file per test file, named by a
 * hash of its path, in a directory the reporter creates and names in
 * KPROBECOV_JEST_CHANNEL. The environment writes it at teardown (write then
 * rename: the reporter never sees half a file); the reporter reads and
 * removes it when Jest reports the file's result, which comes after teardown.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { WorkerSample } from '@kprobecov/core/worker'

export const CHANNEL_ENV = 'KPROBECOV_JEST_CHANNEL'

interface Message {
  testPath: string
  sample: WorkerSample
}

const fileOf = (dir: string, testPath: string): string =>
  path.join(dir, `${createHash('sha256').update(testPath).digest('hex').slice(0, 32)}.json`)

export function sendSample(dir: string, testPath: string, sample: WorkerSample): void {
  const file = fileOf(dir, testPath)
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify({ testPath, sample } satisfies Message))
  renameSync(tmp, file)
}

/** The sample of testPath, removed from the channel; undefined when the environment sent none. */
export function receiveSample(dir: string, testPath: string): WorkerSample | undefined {
  const file = fileOf(dir, testPath)
  if (!existsSync(file)) return undefined
  const message = JSON.parse(readFileSync(file, 'utf8')) as Message
  rmSync(file, { force: true })
  return message.testPath === testPath ? message.sample : undefined
}
