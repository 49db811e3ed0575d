/**
 * The phases of `kprobecov vm`, in order, and the one deadline (--timeout)
 * they share: fetch (the kernel, into the cache), build (kprobecov.ko and
 * each --build directory, on the host), boot (QEMU start until the guest's
 * /init hands over), load (insmod in the guest), command. A timeout names
 * the phase it ran out in.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { KprobecovError } from '../errors.ts'

export type Phase = 'fetch' | 'build' | 'boot' | 'load' | 'command'

/** Exit status of a run that timed out (as timeout(1)). */
export const TIMEOUT_STATUS = 124

export class Deadline {
  readonly end: number
  readonly seconds: number
  constructor(seconds: number, start: number = Date.now()) {
    this.seconds = seconds
    this.end = start + seconds * 1000
  }

  timeout(phase: Phase, detail = ''): KprobecovError {
    return new KprobecovError('ETIMEDOUT', `timed out after ${this.seconds} s in phase ${phase}${detail}: give a longer --timeout${phase === 'fetch' ? ' (the kernel is fetched once; later runs read the cache)' : ''}`)
  }

  /** Milliseconds left; throws the timeout of `phase` when none are. */
  left(phase: Phase): number {
    const ms = this.end - Date.now()
    if (ms <= 0) throw this.timeout(phase)
    return ms
  }
}

export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a host program within the deadline (killed when it runs out: the
 * timeout of `phase`). Throws ENOPROGRAM naming `pkg` when it is missing.
 */
export function runSync(program: string, args: readonly string[], o: {
  phase: Phase
  deadline: Deadline
  pkg?: string
  cwd?: string
  env?: Record<string, string | undefined>
  /** Passes stdout and stderr through to this process's stderr (progress), instead of capturing them. */
  show?: boolean
}): RunResult {
  const options: SpawnSyncOptions = {
    cwd: o.cwd,
    env: (o.env ?? process.env) as NodeJS.ProcessEnv,
    timeout: o.deadline.left(o.phase),
    killSignal: 'SIGKILL',
    maxBuffer: 256 << 20,
    stdio: o.show ? ['ignore', 2, 2] : ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  }
  const r = spawnSync(program, args, options)
  const err = r.error as NodeJS.ErrnoException | undefined
  if (err?.code === 'ETIMEDOUT') throw o.deadline.timeout(o.phase, ` (${program} was running)`)
  if (err?.code === 'ENOENT') {
    throw new KprobecovError('ENOPROGRAM', `${program} is not installed: install ${o.pkg ?? program} (Debian/Ubuntu: sudo apt-get install ${o.pkg ?? program})`)
  }
  if (err) throw err
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') }
}
