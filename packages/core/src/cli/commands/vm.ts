/**
 * kprobecov vm: a command in a throwaway QEMU guest of a Debian kernel with
 * kprobecov.ko and the user's modules loaded. See vm/ for the parts (run.ts
 * sequences them); this file only maps the options.
 */
import { vmRun } from '../../vm/run.ts'
import { vmOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'

export function vm(parsed: Parsed, io: CliIO): Promise<number> {
  const o = vmOptions(parsed, io.cwd)
  return vmRun({ ...o, cwd: io.cwd, env: io.env, stdinTty: process.stdin.isTTY === true && io.childOutput !== 'forward', stdout: io.stdout, stderr: io.stderr })
}
