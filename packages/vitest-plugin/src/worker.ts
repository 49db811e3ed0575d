/**
 * The worker side: each worker attaches itself to a slot of the runner's
 * collector before its first test file (startCoverage), hands the slot's
 * counters over after each file (takeCoverage, whose result Vitest passes to
 * the provider's onAfterSuiteRun), and lets the slot go at the end.
 *
 * A worker process (forks, vmForks) is attached with scope 'tree': it, its
 * threads, and what it starts. A worker thread (threads, vmThreads; the
 * provider allows them only one file at a time) with scope 'process'. With
 * the KCOV backend, the thread that runs the tests and libuv's pool.
 *
 * The attachment lives on globalThis: one per worker, even if this module is
 * evaluated more than once (through Vitest's module runner, with isolation,
 * it was evaluated afresh between startCoverage and takeCoverage).
 */
import { isMainThread } from 'node:worker_threads'
import { WorkerAttachment } from '@kprobecov/core/worker'

const KEY = Symbol.for('kprobecov.vitest.attachment')
const state = globalThis as { [KEY]?: WorkerAttachment | undefined; __vitest_worker__?: { filepath?: string } }

export function startCoverage(): Promise<void> | undefined {
  state[KEY] ??= WorkerAttachment.attach(isMainThread ? 'tree' : 'process')
  // KCOV: the tests start once libuv's pool threads are traced.
  return state[KEY]?.ready()
}

export function takeCoverage(): unknown {
  const attachment = state[KEY]
  if (!attachment) return null
  return { ...attachment.take(), testFile: state.__vitest_worker__?.filepath ?? null }
}

export function stopCoverage(): void {
  state[KEY]?.close()
  state[KEY] = undefined
}
