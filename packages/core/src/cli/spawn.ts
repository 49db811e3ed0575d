/**
 * Starting the command to measure so that it runs no kernel code before it
 * is attached: it starts as `/bin/sh -c 'read _ <&3 ...; exec "$@"'` with
 * fd 3 a pipe, so it waits in read(2) until release() writes a line; then
 * the shell closes fd 3 and execs the command in the same process (same
 * pid, already attached). If this process dies before release(), the pipe
 * closes without a line and the shell exits (status 125) without running it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { KprobecovError } from '../errors.ts'
import type { CliIO } from './io.ts'

const HOLD = 'read _ <&3 || exit 125; exec "$@" 3<&-'

export interface HeldCommand {
  /** The command's pid (the shell's, which it replaces). */
  readonly pid: number
  /** Lets the command run. */
  release(): void
  /** Resolves with its exit status: its code, or 128 + the signal number. */
  readonly exited: Promise<number>
  /** Sends it a signal (while it runs). */
  kill(signal: NodeJS.Signals): void
}

/** Whether argv[0] can be executed: a path, or a name found in PATH. */
function findCommand(name: string, io: CliIO): boolean {
  const executable = (file: string): boolean => {
    try {
      accessSync(file, constants.X_OK)
      return statSync(file).isFile()
    } catch {
      return false
    }
  }
  if (name.includes('/')) return executable(path.resolve(io.cwd, name))
  return (io.env.PATH ?? '/usr/bin:/bin').split(':').some((dir) => dir !== '' && executable(path.join(dir, name)))
}

/** Throws KprobecovError ENOENT when argv[0] cannot be run (before anything is planted). */
export function checkCommand(argv: readonly string[], io: CliIO): void {
  const [name] = argv
  if (name === undefined || name === '') throw new KprobecovError('EINVAL', 'the command to run is empty')
  if (!findCommand(name, io)) {
    throw new KprobecovError('ENOENT', name.includes('/')
      ? `${name}: no such executable file: check the path (and that it is executable)`
      : `${name}: command not found: check its name, or your PATH`)
  }
}

/** Starts argv held before its first instruction. Throws KprobecovError ENOENT if it cannot run. */
export function spawnHeld(argv: readonly string[], io: CliIO): HeldCommand {
  checkCommand(argv, io)
  const name = argv[0]!
  const forward = io.childOutput === 'forward'
  const child: ChildProcess = spawn('/bin/sh', ['-c', HOLD, 'kprobecov', ...argv], {
    cwd: io.cwd,
    env: io.env as NodeJS.ProcessEnv,
    stdio: [forward ? 'ignore' : 'inherit', forward ? 'pipe' : 'inherit', forward ? 'pipe' : 'inherit', 'pipe'],
  })
  if (forward) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => io.stdout.write(s))
    child.stderr?.setEncoding('utf8').on('data', (s: string) => io.stderr.write(s))
  }
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (e) => reject(new KprobecovError('ENOEXEC', `cannot start /bin/sh to run ${name}: ${e.message}`)))
    child.once('close', (code, signal) => {
      if (code !== null) resolve(code)
      else resolve(128 + (signal ? (osConstants.signals[signal] ?? 0) : 0))
    })
  })
  if (child.pid === undefined) {
    // spawn failed; 'error' follows
    return { pid: 0, release() {}, exited, kill() {} }
  }
  const gate = child.stdio[3] as Writable
  gate.on('error', () => {}) // the command exited before release: its status tells
  return {
    pid: child.pid,
    release() {
      gate.end('go\n')
    },
    exited,
    kill(signal) {
      child.kill(signal)
    },
  }
}

/**
 * While fn runs: Ctrl-C (SIGINT, which the terminal sends the command too)
 * does not stop this process, which must still collect and report; SIGTERM
 * and SIGHUP are passed on to the command.
 */
export async function shieldSignals<T>(command: HeldCommand | undefined, fn: () => Promise<T>): Promise<T> {
  const ignore = () => {}
  const pass = (signal: NodeJS.Signals) => command?.kill(signal)
  process.on('SIGINT', ignore)
  process.on('SIGTERM', pass)
  process.on('SIGHUP', pass)
  try {
    return await fn()
  } finally {
    process.off('SIGINT', ignore)
    process.off('SIGTERM', pass)
    process.off('SIGHUP', pass)
  }
}
