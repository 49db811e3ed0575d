/**
 * Options and help texts several commands take (the measured modules, the
 * output directory, reporters, the saved run or a live measurement), and
 * their builders.
 */
import type { ParseArgsOptionsConfig } from 'node:util'
import type { ReportType } from 'istanbul-reports'
import { DEFAULT_GRANULARITY, DEFAULT_OUT, GRANULARITIES, type Granularity } from '../../defaults.ts'
import { DEFAULT_DEVICE } from '../../device/collector.ts'
import { VMLINUX } from '../../device/vmlinux.ts'
import { flag, list, oneOf, resolveIn, str, usage, type Parsed } from './base.ts'

/** istanbul-reports' reporters. */
export const REPORTERS: readonly ReportType[] = [
  'clover', 'cobertura', 'html', 'html-spa', 'json', 'json-summary', 'lcov', 'lcovonly', 'none', 'teamcity',
  'text', 'text-lcov', 'text-summary',
]
export const DEFAULT_REPORTERS: readonly ReportType[] = ['lcov', 'text-summary']
export const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies ParseArgsOptionsConfig
export const VMLINUX_GLOBS = {
  sources: { type: 'string', multiple: true },
  functions: { type: 'string', multiple: true },
} as const satisfies ParseArgsOptionsConfig
export const LIVE = {
  module: { type: 'string', short: 'm', multiple: true },
  ...VMLINUX_GLOBS,
  granularity: { type: 'string', short: 'g' },
  device: { type: 'string' },
  progress: { type: 'boolean' },
  root: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig
export const OUT = { out: { type: 'string', short: 'o' } } as const satisfies ParseArgsOptionsConfig
export const REPORTER = { reporter: { type: 'string', short: 'r', multiple: true } } as const satisfies ParseArgsOptionsConfig

export const GLOBS_HELP = `
      --sources GLOB           vmlinux: the functions of these source files, as paths in the
                               kernel tree, e.g. 'fs/ext4/**' (repeatable)
      --functions GLOB         vmlinux: the functions of these names, e.g. '__x64_sys_*'
                               (repeatable)`
export const MODULE_HELP = `
  -m, --module NAME[=PATH.ko]  the module to measure (repeatable); PATH: the .ko with debug info
                               it was loaded from (default: found with modinfo). It may be loaded
                               already or be loaded by the command (module_init is covered then)
  -m, --module vmlinux[=PATH]  built-in code, chosen with --sources and --functions; PATH: the
                               running kernel's vmlinux with debug info (default: where debug
                               packages install it, e.g. linux-image-$(uname -r)-dbg on Debian)${GLOBS_HELP}`
export const LIVE_HELP = `${MODULE_HELP}
  -g, --granularity KIND       function, line or branch (default branch: lines and branches)
      --device PATH            the kprobecov device (default ${DEFAULT_DEVICE})
      --root DIR               project root: report paths are relative to it (default: .); a
                               vmlinux's sources are named as in its kernel tree (kernel/sys.c):
                               give that tree's source as DIR to see them in the reports
      --progress               show progress on stderr also when it is not a terminal`
export const SAVED_HELP = `
  -o, --out DIR                the saved run to read (default ${DEFAULT_OUT}), when no --module
                               is given; with --module, the command is measured now instead`
export const REPORTER_HELP = `
  -r, --reporter NAME          istanbul reporter (repeatable; default lcov and text-summary):
                               ${REPORTERS.slice(0, 7).join(', ')},
                               ${REPORTERS.slice(7).join(', ')}`

export interface ModuleSpec {
  /** As lsmod shows it ('-' read as '_'), or 'vmlinux'. */
  name: string
  /** The .ko (or vmlinux), absolute; undefined: found with modinfo / under /lib/modules (vmlinux: vmlinuxCandidates). */
  object?: string
  /** vmlinux only (at least one of them): globs of source paths in the kernel tree, of function names. */
  sources?: string[]
  functions?: string[]
}

export interface LiveOptions {
  modules: ModuleSpec[]
  granularity: Granularity
  device: string
  root: string
  progress: boolean
}

export interface ReporterChoice {
  reporters: ReportType[]
}

/** --module NAME[=PATH.ko]..., and --sources / --functions for --module vmlinux[=PATH]. */
export function moduleSpecs(p: Parsed, cwd: string): ModuleSpec[] {
  const specs: ModuleSpec[] = []
  for (const m of list(p, 'module')) {
    const eq = m.indexOf('=')
    const name = (eq < 0 ? m : m.slice(0, eq)).replaceAll('-', '_')
    const object = eq < 0 ? undefined : m.slice(eq + 1)
    if (!/^[A-Za-z0-9_]+$/.test(name) || object === '') {
      throw usage(p, `--module wants NAME or NAME=PATH.ko, not '${m}'`)
    }
    if (specs.some((s) => s.name === name)) throw usage(p, `--module ${name} is given twice`)
    specs.push(object === undefined ? { name } : { name, object: resolveIn(cwd, object) })
  }
  const globs = { sources: list(p, 'sources'), functions: list(p, 'functions') }
  for (const [option, given] of Object.entries(globs)) {
    if (given.includes('')) throw usage(p, `--${option} needs a glob, e.g. --sources 'fs/ext4/**' or --functions '__x64_sys_*'`)
  }
  const vmlinux = specs.find((s) => s.name === VMLINUX)
  if (vmlinux === undefined) {
    const option = globs.sources.length > 0 ? 'sources' : globs.functions.length > 0 ? 'functions' : undefined
    if (option !== undefined) throw usage(p, `--${option} chooses built-in code: it goes with --module vmlinux (a module is measured whole)`)
    return specs
  }
  if (globs.sources.length === 0 && globs.functions.length === 0) {
    throw usage(p, `--module vmlinux needs --sources GLOB or --functions GLOB, e.g. --sources 'fs/ext4/**': all of the kernel is too many probes`)
  }
  if (globs.sources.length > 0) vmlinux.sources = globs.sources
  if (globs.functions.length > 0) vmlinux.functions = globs.functions
  return specs
}

export function liveOptions(p: Parsed, cwd: string): LiveOptions {
  const modules = moduleSpecs(p, cwd)
  if (modules.length === 0) throw usage(p, '--module is required, e.g. --module mydrv=path/to/mydrv.ko')
  return {
    modules,
    granularity: oneOf(p, 'granularity', GRANULARITIES, DEFAULT_GRANULARITY),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
    root: resolveIn(cwd, str(p, 'root') ?? '.'),
    progress: flag(p, 'progress'),
  }
}

export function reporters(p: Parsed): ReportType[] {
  const given = list(p, 'reporter').flatMap((r) => r.split(',')).filter((r) => r !== '')
  for (const r of given) {
    if (!(REPORTERS as readonly string[]).includes(r)) throw usage(p, `unknown reporter '${r}': use one of ${REPORTERS.join(', ')}`)
  }
  return given.length > 0 ? [...new Set(given)] as ReportType[] : [...DEFAULT_REPORTERS]
}

export const outDir = (p: Parsed, cwd: string): string => resolveIn(cwd, str(p, 'out') ?? DEFAULT_OUT)

export type QueryTarget =
  | { kind: 'live'; live: LiveOptions; command: string[] | undefined }
  | { kind: 'saved'; out: string }

export function queryTarget(p: Parsed, cwd: string): QueryTarget {
  if (list(p, 'module').length > 0) {
    if (str(p, 'out') !== undefined) throw usage(p, 'give --module (measure now) or --out (a saved run), not both')
    return { kind: 'live', live: liveOptions(p, cwd), command: p.argv }
  }
  moduleSpecs(p, cwd) // --sources / --functions without --module vmlinux
  for (const live of ['granularity', 'device', 'progress', 'edge-bits'] as const) {
    if (p.values[live] !== undefined) throw usage(p, `--${live} needs --module: it is for measuring now, not for a saved run`)
  }
  if (p.argv !== undefined) throw usage(p, 'a command to run needs --module: the module to measure')
  return { kind: 'saved', out: outDir(p, cwd) }
}

