/**
 * The options every front end (Vitest provider, Jest reporter) takes for
 * kernel coverage, and their checks: a wrong option stops the run before any
 * test with one line naming the fix.
 */
import path from 'node:path'
import { DEFAULT_DEVICE } from '../device/collector.ts'
import { normaliseModuleName } from '../device/system.ts'
import { KprobecovError } from '../errors.ts'
import type { Granularity } from '../plan/types.ts'

export interface KprobecovModuleOption {
  /** The module's name as lsmod shows it. */
  name: string
  /** Its .ko with debug info, relative to the root; default: found with modinfo under /lib/modules. */
  object?: string
  /** Default: the options' granularity. */
  granularity?: Granularity
  /**
   * The tests load the module themselves (to cover module_init): it need not
   * be loaded when the run starts; its probes are planted when it loads.
   */
  loadedByTests?: boolean
}

export interface KprobecovOptions {
  modules: KprobecovModuleOption[]
  /** function, line, or branch (lines and branch arms). Default 'branch'. */
  granularity?: Granularity
  /** Default /dev/kprobecov. */
  device?: string
  /** The directory the modules were built in when it is not the root (see PathOptions). */
  sourceRoot?: string
  /** Test workers attached at once, at most (slots of the collector). Default 64. */
  slots?: number
}

export interface ResolvedModule {
  name: string
  /** Absolute, or undefined: found with modinfo. */
  object: string | undefined
  granularity: Granularity
  loadedByTests: boolean
}

export interface ResolvedKprobecovOptions {
  modules: ResolvedModule[]
  device: string
  sourceRoot: string | undefined
  slots: number
}

const GRANULARITIES: readonly Granularity[] = ['function', 'line', 'branch']

const fail = (where: string, what: string): never => {
  throw new KprobecovError('EINVAL', `${where}: ${what}`)
}

/** Checks options given by a user (`where` names them in messages, e.g. "kprobecov({ ... })"). */
export function resolveKprobecovOptions(given: unknown, root: string, where: string): ResolvedKprobecovOptions {
  const example = `modules: [{ name: 'kvstore', object: './kvstore.ko' }]`
  if (typeof given !== 'object' || given === null) return fail(where, `the options must be an object with ${example}`)
  const o = given as Partial<Record<keyof KprobecovOptions, unknown>>
  const granularity = o.granularity ?? 'branch'
  if (!GRANULARITIES.includes(granularity as Granularity)) fail(where, `granularity must be 'function', 'line' or 'branch', not ${JSON.stringify(granularity)}`)
  if (!Array.isArray(o.modules) || o.modules.length === 0) return fail(where, `no module to measure: give ${example}`)
  const modules = o.modules.map((m: unknown, i): ResolvedModule => {
    const at = `modules[${i}]`
    if (typeof m !== 'object' || m === null || typeof (m as { name?: unknown }).name !== 'string' || (m as { name: string }).name === '') {
      return fail(where, `${at} needs a name: { name: 'kvstore', object: './kvstore.ko' }`)
    }
    const spec = m as KprobecovModuleOption
    if (spec.object !== undefined && (typeof spec.object !== 'string' || spec.object === '')) fail(where, `${at}.object must be the path of the .ko`)
    const g: unknown = spec.granularity ?? granularity
    if (!GRANULARITIES.includes(g as Granularity)) fail(where, `${at}.granularity must be 'function', 'line' or 'branch', not ${JSON.stringify(g)}`)
    return { name: normaliseModuleName(spec.name), object: spec.object === undefined ? undefined : path.resolve(root, spec.object), granularity: g as Granularity, loadedByTests: spec.loadedByTests === true }
  })
  const names = modules.map((m) => m.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) fail(where, `the module ${twice} is given twice: give each module once`)
  const slots = o.slots ?? 64
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1) fail(where, `slots must be a positive integer (test workers attached at once), not ${JSON.stringify(slots)}`)
  if (o.device !== undefined && typeof o.device !== 'string') fail(where, 'device must be the path of the kprobecov device')
  if (o.sourceRoot !== undefined && typeof o.sourceRoot !== 'string') fail(where, 'sourceRoot must be a directory')
  return {
    modules,
    device: (o.device as string | undefined) ?? DEFAULT_DEVICE,
    sourceRoot: o.sourceRoot as string | undefined,
    slots: slots as number,
  }
}
