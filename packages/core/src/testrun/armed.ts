/**
 * The "armed" signal between a test runner's main process and its workers.
 *
 * The main process plants and arms the probes in the background (the
 * kernel's kprobe registration takes seconds under emulation) while the
 * runner starts its workers; a worker attaches, then waits for this signal
 * before its first test file runs, so that no hit is lost.
 *
 * The signal is a file, whose path travels in the workers' environment
 * (ARMED_ENV) beside the collector token. The main process writes it once,
 * atomically (a temporary file renamed over it), when arming ended: the line
 * `armed`, or `error CODE MESSAGE` with the one line the main process
 * prints. A worker polls it with a short sleep and stops waiting with an
 * error when it holds one, when the main process is gone before writing it
 * (a crash), or after a generous bound (ARM_TIMEOUT_ENV seconds, default
 * 600).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { ARM_TIMEOUT_ENV, DEFAULT_ARM_TIMEOUT_S } from '../defaults.ts'
import { KprobecovError } from '../errors.ts'

/** The environment variable that carries the signal file's path to workers. */
export const ARMED_ENV = 'KPROBECOV_ARMED'
/** Seconds a worker waits for the signal (default DEFAULT_ARM_TIMEOUT_S). */
export { ARM_TIMEOUT_ENV, DEFAULT_ARM_TIMEOUT_S }
const POLL_MS = 20

export type ArmedState = 'armed' | KprobecovError | undefined

/** Writes the signal: `armed`, or the error's code and one line. Atomic: readers see all of it or nothing. */
export function writeArmedSignal(file: string, error?: KprobecovError): void {
  const text = error === undefined ? 'armed\n' : `error ${error.code} ${error.message.split('\n')[0]}\n`
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, file)
}

/** What the signal says now: 'armed', the main process's error, or undefined (not written yet). */
export function readArmedSignal(file: string): ArmedState {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new KprobecovError('ENOTARMED', `cannot read the armed signal ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}): leave ${ARMED_ENV} to the test runner's kprobecov plugin`)
  }
  if (text === 'armed\n') return 'armed'
  const m = /^error (\S+) (.*)\n$/.exec(text)
  if (m) return new KprobecovError(m[1]!, m[2]!)
  throw new KprobecovError('ENOTARMED', `${file} is not an armed signal (${JSON.stringify(text.slice(0, 40))}): leave ${ARMED_ENV} to the test runner's kprobecov plugin`)
}

/**
 * Writes the signal when `planting` settles and passes its outcome on:
 * `armed` when it resolves; when it rejects, the error's line (an error
 * that is not a KprobecovError becomes ENOTARMED naming it) and a rejection
 * with that KprobecovError.
 */
export async function signalWhenArmed<T>(file: string, planting: Promise<T>): Promise<T> {
  let value: T
  try {
    value = await planting
  } catch (e) {
    const error = e instanceof KprobecovError ? e
      : new KprobecovError('ENOTARMED', `planting the probes failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, { cause: e })
    writeArmedSignal(file, error)
    throw error
  }
  writeArmedSignal(file, undefined)
  return value
}

export interface WaitArmedOptions {
  /** The process that writes the signal: waiting ends when it is gone. */
  ownerPid?: number | undefined
  /** Default: $KPROBECOV_ARM_TIMEOUT seconds, else 600 s. */
  timeoutMs?: number
  pollMs?: number
  env?: Record<string, string | undefined>
}

/** The bound of waitArmed, from the environment. */
export function armTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const given = env[ARM_TIMEOUT_ENV]
  if (given === undefined || given === '') return DEFAULT_ARM_TIMEOUT_S * 1000
  const s = Number(given)
  if (!Number.isFinite(s) || s <= 0) throw new KprobecovError('ENOTARMED', `${ARM_TIMEOUT_ENV}=${given} is not a number of seconds: give e.g. ${ARM_TIMEOUT_ENV}=${DEFAULT_ARM_TIMEOUT_S}, or unset it`)
  return s * 1000
}

/**
 * Resolves when the signal says `armed`; rejects with the main process's
 * error (the same line), or ENOTARMED when its process ended without
 * writing it or the bound passed.
 */
export async function waitArmed(file: string, options: WaitArmedOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? armTimeoutMs(options.env)
  const pollMs = options.pollMs ?? POLL_MS
  const owner = options.ownerPid
  const start = performance.now()
  for (;;) {
    // Liveness first: an owner that wrote the signal and ended is not a crash.
    const alive = owner === undefined || processAlive(owner)
    const state = readArmedSignal(file)
    if (state === 'armed') return
    if (state !== undefined) throw state
    if (!alive) {
      throw new KprobecovError('ENOTARMED', `the test runner's process (pid ${owner}) ended before the probes were armed: its output says why`)
    }
    if (performance.now() - start >= timeoutMs) {
      throw new KprobecovError('ENOTARMED', `the probes were not armed within ${timeoutMs / 1000} s: planting them in the kernel takes longer (many probes under emulation?): set ${ARM_TIMEOUT_ENV} to more seconds`)
    }
    await sleep(pollMs)
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
