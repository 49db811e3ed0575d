/**
 * What a command talks to: its output streams, working directory,
 * environment, and the roots of /sys, /proc and /lib/modules. The bin passes
 * the process's own; tests pass captured streams and FAKE trees.
 */
import type { SystemPaths } from '../device/system.ts'

export interface Output {
  write(text: string): unknown
  /** A terminal: progress is drawn in place, without --progress too. */
  isTTY?: boolean
}

export interface SystemSetup extends SystemPaths {
  /** Root of the module trees; default /lib/modules. */
  modulesDir?: string
  /** Kernel release; default the running one. */
  release?: string
  /** Root of the file system a vmlinux with debug info is looked for in; default /. */
  fsRoot?: string
}

export interface CliIO {
  stdout: Output
  stderr: Output
  /** Relative paths of the command line are relative to it. */
  cwd: string
  env: Record<string, string | undefined>
  system: SystemSetup
  /**
   * Where the measured command's output goes: 'inherit' (default) shares the
   * process's stdio; 'forward' pipes it into stdout / stderr above (tests).
   */
  childOutput?: 'inherit' | 'forward'
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env, system: {} }
}

/**
 * Progress of long steps (reading debug info, planting and arming thousands of
 * probes, writing reports), on stderr: drawn in place on a terminal, one line
 * per step with --progress elsewhere, nothing otherwise.
 */
export class Progress {
  readonly #out: Output
  readonly #enabled: boolean
  readonly #tty: boolean
  #drawn = false
  #last = 0

  constructor(out: Output, forced: boolean) {
    this.#out = out
    this.#tty = out.isTTY === true
    this.#enabled = forced || this.#tty
  }

  get enabled(): boolean {
    return this.#enabled
  }

  /** A step starts (or a note about it). */
  step(text: string): void {
    if (!this.#enabled) return
    this.#show(text, true)
  }

  /** A note that stays (on a terminal too): a line of its own. */
  note(text: string): void {
    if (!this.#enabled) return
    this.clear()
    this.#out.write(`kprobecov: ${text}\n`)
  }

  /** How far a long step is; on a terminal at most 10 updates a second. */
  count(text: string, done: number, total: number): void {
    if (!this.#enabled) return
    if (!this.#tty) {
      if (done === total) this.#out.write(`kprobecov: ${text} ${done}/${total}\n`)
      return
    }
    const now = performance.now()
    if (done !== total && now - this.#last < 100) return
    this.#last = now
    this.#show(`${text} ${done}/${total} (${total === 0 ? 100 : Math.floor((done / total) * 100)}%)`, false)
  }

  /** Clears a line drawn in place (before other output, e.g. the command's). */
  clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K')
    this.#drawn = false
  }

  #show(text: string, newStep: boolean): void {
    if (this.#tty) {
      this.#out.write(`\r\x1b[Kkprobecov: ${text}`)
      this.#drawn = true
    } else if (newStep) {
      this.#out.write(`kprobecov: ${text}\n`)
    }
  }
}
