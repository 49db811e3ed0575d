/**
 * The share/adopt protocol between the process that opened a collector and
 * the processes it starts (a test runner's workers): share() marks the fd
 * inherited across exec and puts this token (one line of JSON) in their
 * environment; adopt() parses it, checks that the inherited fd is that
 * collector, and maps its counter area. Messages name what went wrong in
 * the user's terms (how the runner starts its workers).
 */
import { KprobecovError } from '../errors.ts'

/** What share() tells the processes it starts. */
export interface SharedCollector {
  fd: number
  /** The area's size in bytes (mmap must map all of it), decimal. */
  areaBytes: string
  path: string
  /** The process that opened the collector (for messages). */
  pid: number
}

export function shareToken(shared: SharedCollector): string {
  return JSON.stringify(shared)
}

/** The token's collector; ENOCOLLECTOR when it is no token. */
export function parseShareToken(token: string): SharedCollector {
  let shared: SharedCollector
  try {
    shared = JSON.parse(token) as SharedCollector
    if (!Number.isInteger(shared.fd) || shared.fd < 0 || !/^[0-9]+$/.test(shared.areaBytes)) throw new Error('bad token')
  } catch {
    throw new KprobecovError('ENOCOLLECTOR', `KPROBECOV_COLLECTOR is not a collector token (${JSON.stringify(token.slice(0, 80))}): leave it to the test runner's kprobecov plugin`)
  }
  return shared
}

/** The error when this process cannot reach the shared collector (`why`: what the fd turned out to be). */
export function unreachable(shared: SharedCollector, why: string): KprobecovError {
  return new KprobecovError(
    'ENOCOLLECTOR',
    `this process (pid ${process.pid}) cannot reach the collector of pid ${shared.pid} (fd ${shared.fd}: ${why}): run the tests in worker processes the runner starts itself (forks pool, child processes), not in processes started apart from it`,
  )
}
