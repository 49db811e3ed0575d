/** kprobecov callers: its options, help and builder. */
import { usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, OUT, LIVE_HELP, SAVED_HELP, queryTarget, type QueryTarget } from './shared.ts'

export const CALLERS_SPEC: CommandSpec = {
  summary: 'who called a function, and how often (runs made with --callers)',
  usage: 'kprobecov callers FUNC [--out DIR | --module ... [-- CMD]]',
  options: { ...LIVE, ...OUT },
  help: `
  FUNC                         a function's name (or its symbol, e.g. foo.constprop.0)${SAVED_HELP}${LIVE_HELP}`,
  positionals: [0, 1],
  after: 'optional',
}

export interface CallersOptions {
  target: QueryTarget
  func: string
}

export function callersOptions(p: Parsed, cwd: string): CallersOptions {
  const func = p.positionals[0]
  if (func === undefined) throw usage(p, 'which function? kprobecov callers FUNC')
  return { target: queryTarget(p, cwd), func }
}
