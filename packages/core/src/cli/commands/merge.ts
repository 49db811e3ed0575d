/** kprobecov merge: lcov tracefiles and Istanbul JSON files (e.g. of CI shards) into one report. */
import { existsSync } from 'node:fs'
import { mergeCoverage } from '../../coverage/merge.ts'
import { KprobecovError } from '../../errors.ts'
import { mergeOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { writeCoverageDir } from '../outputs.ts'

export function merge(parsed: Parsed, io: CliIO): number {
  const o = mergeOptions(parsed, io.cwd)
  for (const f of o.files) {
    if (!existsSync(f)) throw new KprobecovError('ENOENT', `${f} does not exist: give lcov or Istanbul JSON files to merge`)
  }
  const map = mergeCoverage(o.files, { root: o.root })
  writeCoverageDir(o.out, map, o.reporters, o.root, io)
  return 0
}
