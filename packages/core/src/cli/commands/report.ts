/** kprobecov report: the reports of a saved run, written again (other reporters, another root). */
import { reportOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { writeRunDir } from '../outputs.ts'
import { readRun } from '../record.ts'

export function report(parsed: Parsed, io: CliIO): number {
  const o = reportOptions(parsed, io.cwd)
  const run = readRun(o.out)
  if (o.root !== undefined) run.root = o.root
  writeRunDir(o.out, run, o.reporters, io)
  return 0
}
