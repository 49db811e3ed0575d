/** kprobecov merge: its options, help and builder. */
import { resolveIn, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { OUT, REPORTER, REPORTER_HELP, reporters, type ReporterChoice } from './shared.ts'

export const MERGE_SPEC: CommandSpec = {
  summary: 'merge lcov and Istanbul JSON files (e.g. of CI shards) into one report',
  usage: 'kprobecov merge FILE... --out DIR [--reporter NAME]...',
  options: { ...OUT, ...REPORTER, root: { type: 'string' } },
  help: `
  FILE                         an lcov tracefile or an Istanbul JSON (coverage-final.json)
  -o, --out DIR                where the merged reports go (replaced as a whole)${REPORTER_HELP}
      --root DIR               project root: paths inside it become relative (default: .)`,
  positionals: [0, Infinity],
  after: 'no',
}

export interface MergeOptions extends ReporterChoice {
  files: string[]
  out: string
  root: string
}

export function mergeOptions(p: Parsed, cwd: string): MergeOptions {
  if (p.positionals.length === 0) throw usage(p, 'no files to merge: kprobecov merge FILE... --out DIR')
  const out = str(p, 'out')
  if (out === undefined) throw usage(p, '--out is required: the directory the merged reports go to')
  return {
    files: p.positionals.map((f) => resolveIn(cwd, f)),
    out: resolveIn(cwd, out),
    reporters: reporters(p),
    root: resolveIn(cwd, str(p, 'root') ?? '.'),
  }
}

/** Where a query reads from: a run measured now, or a saved one. */
