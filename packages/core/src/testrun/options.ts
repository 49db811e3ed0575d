/**
 * The options every front end (Vitest provider, Jest reporter) takes for
 * kernel coverage, and their checks: a wrong option stops the run before any
 * test with one line naming the fix.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_DEVICE } from '../device/collector.ts'
import { normaliseModuleName } from '../device/system.ts'
import { VMLINUX } from '../device/vmlinux.ts'
import { KprobecovError } from '../errors.ts'
import { DEFAULT_KCOV, kcovPresent } from '../kcov/system.ts'
import type { SessionModule } from '../session/modules.ts'
import {
  BACKENDS, BACKEND_ENV, DEFAULT_BACKEND, DEFAULT_GRANULARITY, DEFAULT_KCOV_BUFFER, DEFAULT_SLOTS, GRANULARITIES,
  MAX_KCOV_BUFFER, MIN_KCOV_BUFFER, type Backend, type Granularity,
} from '../defaults.ts'

export { BACKEND_ENV, DEFAULT_KCOV_BUFFER, type Backend }

export interface KcovOptions {
  /**
   * Records per traced thread between two drains (drains happen every 200 ms
   * while the event loop turns, and at the end of each test file): 8 bytes
   * each; libuv's pool threads get a quarter. Default 2^21 (16 MB). A buffer
   * that fills up loses what comes after (the run says so).
   */
  buffer?: number
  /** Trace libuv's thread pool too (asynchronous fs, dns.lookup, crypto, zlib). Default true. */
  threadPool?: boolean
  /**
   * Trace the processes the tests start (with libkpc-kcov-preload.so in
   * LD_PRELOAD): they count for the test file once they have exited. Default true.
   */
  children?: boolean
  /** The KCOV file; default /sys/kernel/debug/kcov. */
  path?: string
}

export interface KprobecovModuleOption {
  /** The module's name as lsmod shows it, or 'vmlinux': built-in code, chosen with sources and functions. */
  name: string
  /**
   * Its .ko with debug info, relative to the root; default: found with modinfo
   * under /lib/modules. vmlinux: the running kernel's vmlinux with debug info;
   * default: where debug packages install it (linux-image-R-dbg on Debian).
   */
  object?: string
  /**
   * vmlinux only (it needs this or `functions`): globs of the source files
   * whose functions to measure, as paths in the kernel tree, e.g. ['fs/ext4/**'].
   */
  sources?: string[]
  /** vmlinux only: globs of the names of the functions to measure, e.g. ['__x64_sys_*']. */
  functions?: string[]
  /** Default: the options' granularity. */
  granularity?: Granularity
  /**
   * The tests load the module themselves (to cover module_init): it need not
   * be loaded when the run starts; its probes are planted when it loads.
   */
  loadedByTests?: boolean
}

// A type alias, not an interface: Jest's config takes reporter options as
// Record<string, unknown>, which only an alias's object type is assignable to.
export type KprobecovOptions = {
  modules: KprobecovModuleOption[]
  /** function, line, or branch (lines and branch arms). Default 'branch'. */
  granularity?: Granularity
  /** Default /dev/kprobecov. */
  device?: string
  /** The directory the modules were built in when it is not the root (see PathOptions). */
  sourceRoot?: string
  /** Test workers attached at once, at most (slots of the collector). Default 64. */
  slots?: number
  /** 'kprobe', 'kcov' or 'auto' (default: $KPROBECOV_BACKEND, else 'auto'). */
  backend?: Backend
  /** The KCOV backend's settings. */
  kcov?: KcovOptions
}

/** A module option checked: the session's module record (object absolute, or undefined: the installed one). */
export type ResolvedModule = SessionModule

export interface ResolvedKprobecovOptions {
  modules: ResolvedModule[]
  device: string
  sourceRoot: string | undefined
  slots: number
  backend: Backend
  kcov: Required<KcovOptions>
}

/** The backend 'auto' stands for on this machine (see Backend). */
export function chooseBackend(backend: Backend, device: string = DEFAULT_DEVICE, kcovPath: string = DEFAULT_KCOV): 'kprobe' | 'kcov' {
  if (backend !== 'auto') return backend
  if (existsSync(device)) return 'kprobe'
  return kcovPresent(kcovPath) ? 'kcov' : 'kprobe'
}


const GLOB_EXAMPLES = { sources: "['fs/ext4/**']", functions: "['__x64_sys_*']" } as const

/** A module option's sources and functions, checked: globs, for vmlinux only, which needs one of them. */
function vmlinuxGlobs(spec: KprobecovModuleOption, name: string, fail: (what: string) => never): Pick<ResolvedModule, 'sources' | 'functions'> {
  const out: Pick<ResolvedModule, 'sources' | 'functions'> = {}
  for (const key of ['sources', 'functions'] as const) {
    const v: unknown = spec[key]
    if (v === undefined) continue
    if (!Array.isArray(v) || v.some((g) => typeof g !== 'string' || g === '')) {
      fail(`.${key} must be an array of globs (non-empty strings), e.g. ${key}: ${GLOB_EXAMPLES[key]}`)
    }
    if (name !== VMLINUX) fail(`.${key} chooses built-in code: it goes with name: 'vmlinux' (a module is measured whole)`)
    if ((v as string[]).length > 0) out[key] = [...(v as string[])]
  }
  if (name === VMLINUX && out.sources === undefined && out.functions === undefined) {
    fail(` (vmlinux) needs sources or functions globs, e.g. sources: ${GLOB_EXAMPLES.sources}: all of the kernel is too many probes`)
  }
  return out
}

const fail = (where: string, what: string): never => {
  throw new KprobecovError('EINVAL', `${where}: ${what}`)
}

/** Checks options given by a user (`where` names them in messages, e.g. "kprobecov({ ... })"). */
export function resolveKprobecovOptions(given: unknown, root: string, where: string, env: Record<string, string | undefined> = process.env): ResolvedKprobecovOptions {
  const example = `modules: [{ name: 'kvstore', object: './kvstore.ko' }]`
  if (typeof given !== 'object' || given === null) return fail(where, `the options must be an object with ${example}`)
  const o = given as Partial<Record<keyof KprobecovOptions, unknown>>
  const granularity = o.granularity ?? DEFAULT_GRANULARITY
  if (!(GRANULARITIES as readonly unknown[]).includes(granularity)) fail(where, `granularity must be 'function', 'line' or 'branch', not ${JSON.stringify(granularity)}`)
  if (!Array.isArray(o.modules) || o.modules.length === 0) return fail(where, `no module to measure: give ${example}`)
  const modules = o.modules.map((m: unknown, i): ResolvedModule => {
    const at = `modules[${i}]`
    if (typeof m !== 'object' || m === null || typeof (m as { name?: unknown }).name !== 'string' || (m as { name: string }).name === '') {
      return fail(where, `${at} needs a name: { name: 'kvstore', object: './kvstore.ko' }`)
    }
    const spec = m as KprobecovModuleOption
    if (spec.object !== undefined && (typeof spec.object !== 'string' || spec.object === '')) fail(where, `${at}.object must be the path of the .ko`)
    const g: unknown = spec.granularity ?? granularity
    if (!(GRANULARITIES as readonly unknown[]).includes(g)) fail(where, `${at}.granularity must be 'function', 'line' or 'branch', not ${JSON.stringify(g)}`)
    const name = normaliseModuleName(spec.name)
    return {
      name, object: spec.object === undefined ? undefined : path.resolve(root, spec.object), granularity: g as Granularity,
      loadedByTests: spec.loadedByTests === true, ...vmlinuxGlobs(spec, name, (what) => fail(where, `${at}${what}`)),
    }
  })
  const names = modules.map((m) => m.name)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice !== undefined) fail(where, `the module ${twice} is given twice: give each module once`)
  const slots = o.slots ?? DEFAULT_SLOTS
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1) fail(where, `slots must be a positive integer (test workers attached at once), not ${JSON.stringify(slots)}`)
  if (o.device !== undefined && typeof o.device !== 'string') fail(where, 'device must be the path of the kprobecov device')
  if (o.sourceRoot !== undefined && typeof o.sourceRoot !== 'string') fail(where, 'sourceRoot must be a directory')
  const fromEnv = env[BACKEND_ENV] === '' ? undefined : env[BACKEND_ENV]
  const backend = o.backend ?? fromEnv ?? DEFAULT_BACKEND
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    fail(where, o.backend === undefined
      ? `${BACKEND_ENV} must be 'kprobe', 'kcov' or 'auto', not ${JSON.stringify(backend)}`
      : `backend must be 'kprobe', 'kcov' or 'auto', not ${JSON.stringify(backend)}`)
  }
  const k = (o.kcov ?? {}) as Partial<Record<keyof KcovOptions, unknown>>
  if (typeof k !== 'object' || k === null) fail(where, 'kcov must be an object: { buffer, threadPool }')
  const buffer = k.buffer ?? DEFAULT_KCOV_BUFFER
  if (typeof buffer !== 'number' || !Number.isInteger(buffer) || buffer < MIN_KCOV_BUFFER || buffer > MAX_KCOV_BUFFER) {
    fail(where, `kcov.buffer must be a whole number of records from ${MIN_KCOV_BUFFER} to 2^${Math.log2(MAX_KCOV_BUFFER)}, not ${JSON.stringify(buffer)}`)
  }
  if (k.threadPool !== undefined && typeof k.threadPool !== 'boolean') fail(where, 'kcov.threadPool must be true or false')
  if (k.children !== undefined && typeof k.children !== 'boolean') fail(where, 'kcov.children must be true or false')
  if (k.path !== undefined && (typeof k.path !== 'string' || k.path === '')) fail(where, 'kcov.path must be the path of the KCOV file')
  return {
    modules,
    device: (o.device as string | undefined) ?? DEFAULT_DEVICE,
    sourceRoot: o.sourceRoot as string | undefined,
    slots: slots as number,
    backend: backend as Backend,
    kcov: {
      buffer: buffer as number, threadPool: (k.threadPool as boolean | undefined) ?? true,
      children: (k.children as boolean | undefined) ?? true, path: (k.path as string | undefined) ?? DEFAULT_KCOV,
    },
  }
}
