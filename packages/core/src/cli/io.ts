/**
 * What a command talks to: its output streams, working directory,
 * environment, and the roots of /sys, /proc and /lib/modules. The bin passes
 * the process's own; tests pass captured streams and FAKE trees.
 */
import type { SystemSetup } from '../device/system.ts'
import type { Output } from '../reports/progress.ts'

export type { SystemSetup } from '../device/system.ts'
export { Progress, type Output } from '../reports/progress.ts'


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
