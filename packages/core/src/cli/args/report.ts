/** kprobecov report: its options, help and builder. */
import { DEFAULT_OUT } from '../../defaults.ts'
import { resolveIn, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { OUT, REPORTER, REPORTER_HELP, reporters, outDir, type ReporterChoice } from './shared.ts'

export const REPORT_SPEC: CommandSpec = {
  summary: 'write the reports of a saved run again, with other reporters',
  usage: 'kprobecov report [--out DIR] [--reporter NAME]...',
  options: { ...OUT, ...REPORTER, root: { type: 'string' } },
  help: `
  -o, --out DIR                the saved run (default ${DEFAULT_OUT}); the reports replace its own${REPORTER_HELP}
      --root DIR               project root for report paths (default: the run's)`,
  positionals: [0, 0],
  after: 'no',
}

export interface ReportOptions extends ReporterChoice {
  out: string
  root: string | undefined
}

export function reportOptions(p: Parsed, cwd: string): ReportOptions {
  const root = str(p, 'root')
  return { out: outDir(p, cwd), reporters: reporters(p), root: root === undefined ? undefined : resolveIn(cwd, root) }
}
