/** kprobecov paths: its options, help and builder. */
import { DEFAULT_EDGE_BITS } from '../../defaults.ts'
import { MAX_EDGE_BITS } from '../../native/abi.ts'
import { flag, int, list, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, OUT, LIVE_HELP, SAVED_HELP, queryTarget, type QueryTarget } from './shared.ts'

export const PATHS_SPEC: CommandSpec = {
  summary: 'the edge map: which control-flow edges between probes ran',
  usage: 'kprobecov paths [--dot] [--out DIR | --module ... [-- CMD]]',
  options: { ...LIVE, ...OUT, dot: { type: 'boolean' }, 'edge-bits': { type: 'string' } },
  help: `
      --dot                    Graphviz instead of a list (kprobecov paths --dot | dot -Tsvg)
      --edge-bits N            with --module: log2 of the edge counters (default ${DEFAULT_EDGE_BITS})${SAVED_HELP}${LIVE_HELP}`,
  notes: `The kernel counts edges AFL-style, hashed into 2^N buckets: two edges that share a
bucket look alike, so an edge can look hit because another one ran.`,
  positionals: [0, 0],
  after: 'optional',
}

export interface PathsOptions {
  target: QueryTarget
  dot: boolean
  edgeBits: number
}

export function pathsOptions(p: Parsed, cwd: string): PathsOptions {
  return {
    target: queryTarget(p, cwd),
    dot: flag(p, 'dot'),
    edgeBits: int(p, 'edge-bits', 1, MAX_EDGE_BITS, DEFAULT_EDGE_BITS),
  }
}
