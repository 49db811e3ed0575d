/** Progress drawn on stderr for the CLI and the front ends (see Progress). */
import type { ProgressEvent } from '../session/progress.ts'

export interface Output {
  write(text: string): unknown
  /** A terminal: progress is drawn in place, without --progress too. */
  isTTY?: boolean
}

/**
 * Progress of long steps (reading debug info, planting and arming thousands of
 * probes, writing reports), on stderr: drawn in place on a terminal, one line
 * per step with --progress elsewhere (`forced`), nothing otherwise; warnings
 * always. Renders the session's events (on) and the caller's own steps.
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

  /** Renders a session's event. */
  readonly on = (e: ProgressEvent): void => {
    if (e.type === 'step') this.step(e.text)
    else if (e.type === 'count') this.count(e.text, e.done, e.total)
    else if (e.type === 'note') this.note(e.text)
    else this.warn(e.text)
  }

  /** A line that stays, shown with progress off too. */
  warn(text: string): void {
    this.clear()
    this.#out.write(`kprobecov: ${text}\n`)
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
