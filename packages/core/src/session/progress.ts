/**
 * Progress of a measurement as events; the caller renders them (the CLI and
 * the front ends draw them on stderr with reports/progress.ts) or drops them.
 */
export type ProgressEvent =
  /** A step starts (reading debug info, planning, arming). */
  | { type: 'step'; text: string }
  /** How far a long step is. */
  | { type: 'count'; text: string; done: number; total: number }
  /** Worth a line where progress is shown, expected (e.g. __init probes of a loaded module). */
  | { type: 'note'; text: string }
  /** Worth a line always: something the user must hear (e.g. probes the kernel refused). */
  | { type: 'warning'; text: string }

export type ProgressListener = (event: ProgressEvent) => void

/** A listener that drops every event. */
export const quiet: ProgressListener = () => {}
