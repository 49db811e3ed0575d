/**
 * What the running system says about kprobes, kprobecov.ko and the modules
 * to measure: the checks behind the one-line errors a user gets before
 * anything is planted. Every function takes the roots of /sys, /proc and
 * /lib/modules as options so that unit tests can point them at FAKE trees.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import { basename, join } from 'node:path'
import type { DebugInfo } from '../debuginfo/types.ts'
import { KprobecovError } from '../errors.ts'
import { OPTIONS_NAMING, type Naming } from '../naming.ts'
import { vmlinuxFix } from './vmlinux.ts'

export interface SystemPaths {
  /** Root of sysfs; default /sys. */
  sys?: string
  /** Root of procfs; default /proc. */
  proc?: string
}

const sysRoot = (o: SystemPaths): string => o.sys ?? '/sys'
const procRoot = (o: SystemPaths): string => o.proc ?? '/proc'

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Module names are compared the kernel's way: '-' and '_' are the same. */
export function normaliseModuleName(name: string): string {
  return name.replaceAll('-', '_')
}

/**
 * Whether the kernel has kprobes and they are on:
 * - 'disabled': /sys/kernel/debug/kprobes/enabled says 0 (probes are planted
 *   but never fire) - readable by root with debugfs mounted;
 * - 'enabled': debugfs' kprobes directory, the kprobe perf PMU
 *   (/sys/bus/event_source/devices/kprobe) or register_kprobe in
 *   /proc/kallsyms is there;
 * - 'absent': /proc/kallsyms is readable, lists symbols and has no
 *   register_kprobe (CONFIG_KPROBES is not set);
 * - 'unknown': none of these could be read.
 * On the stock Debian kernel all three of the 'enabled' signs exist; the
 * kallsyms scan (~100 ms under QEMU TCG) runs only when the others are missing.
 */
export function kprobesState(paths: SystemPaths = {}): 'enabled' | 'disabled' | 'absent' | 'unknown' {
  const sys = sysRoot(paths)
  const enabled = readText(join(sys, 'kernel/debug/kprobes/enabled'))
  if (enabled !== undefined) return enabled.trim() === '0' ? 'disabled' : 'enabled'
  if (existsSync(join(sys, 'kernel/debug/kprobes')) || existsSync(join(sys, 'bus/event_source/devices/kprobe'))) {
    return 'enabled'
  }
  const kallsyms = readText(join(procRoot(paths), 'kallsyms'))
  if (kallsyms === undefined || kallsyms.length === 0) return 'unknown'
  return /^\S+ [Tt] register_kprobe$/m.test(kallsyms) ? 'enabled' : 'absent'
}

/** Whether a loadable module of that name is loaded (built-in code has no initstate). */
export function moduleLoaded(name: string, paths: SystemPaths = {}): boolean {
  return existsSync(join(sysRoot(paths), 'module', normaliseModuleName(name), 'initstate'))
}

/**
 * The hex NT_GNU_BUILD_ID in a block of ELF notes (as sysfs shows
 * /sys/module/<m>/notes/.note.gnu.build-id and /sys/kernel/notes), or
 * undefined if there is none.
 */
export function parseBuildIdNote(notes: Uint8Array): string | undefined {
  const dv = new DataView(notes.buffer, notes.byteOffset, notes.byteLength)
  const align4 = (n: number): number => (n + 3) & ~3
  for (let at = 0; at + 12 <= notes.byteLength; ) {
    const namesz = dv.getUint32(at, true)
    const descsz = dv.getUint32(at + 4, true)
    const type = dv.getUint32(at + 8, true)
    const name = at + 12
    const desc = name + align4(namesz)
    const next = desc + align4(descsz)
    if (next > notes.byteLength || namesz > notes.byteLength) return undefined
    const nameText = Buffer.from(notes.buffer, notes.byteOffset + name, namesz).toString('latin1')
    if (type === 3 && nameText === 'GNU\0') {
      return Buffer.from(notes.buffer, notes.byteOffset + desc, descsz).toString('hex')
    }
    at = next
  }
  return undefined
}

/**
 * The build-id of the loaded module `name` ('' or 'vmlinux': the running
 * kernel), undefined if it has none or it cannot be read.
 */
export function loadedBuildId(name: string, paths: SystemPaths = {}): string | undefined {
  const m = normaliseModuleName(name)
  const file =
    m === '' || m === 'vmlinux'
      ? join(sysRoot(paths), 'kernel/notes')
      : join(sysRoot(paths), 'module', m, 'notes/.note.gnu.build-id')
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch {
    return undefined
  }
  return parseBuildIdNote(bytes)
}

/** The system a measurement looks at: /sys and /proc, the module trees, the release, where debug packages are. */
export interface SystemSetup extends SystemPaths {
  /** Root of the module trees; default /lib/modules. */
  modulesDir?: string
  /** Kernel release; default the running one. */
  release?: string
  /** Root of the file system a vmlinux with debug info is looked for in; default /. */
  fsRoot?: string
}

export type ModuleMatch =
  /** Same build-id (or srcversion, for objects without one). */
  | 'match'
  /** Loaded, but neither a build-id nor a srcversion to compare. */
  | 'unverified'
  /** Not loaded and allowed not to be (its probes wait for it: PENDING). */
  | 'not-loaded'

/**
 * Checks that `info` was read from the module (or kernel) that is loaded
 * now: the build-id against /sys/module/<m>/notes/.note.gnu.build-id (for
 * vmlinux /sys/kernel/notes), else the srcversion against
 * /sys/module/<m>/srcversion. Throws KprobecovError EBUILDID on a
 * mismatch, EMODULE_NOT_LOADED if the module is not loaded (unless
 * `allowNotLoaded`: probes on a module that loads later are planted then).
 */
export function checkModuleMatches(
  info: DebugInfo,
  options: SystemPaths & { allowNotLoaded?: boolean; release?: string; naming?: Naming } = {},
): ModuleMatch {
  const name = info.moduleName === '' ? 'vmlinux' : normaliseModuleName(info.moduleName)
  if (name === 'vmlinux') {
    const rel = options.release ?? release()
    const running = loadedBuildId('vmlinux', options)
    if (info.buildId === '' || running === undefined) return 'unverified'
    if (running !== info.buildId) {
      throw new KprobecovError(
        'EBUILDID',
        `${info.path} is not the running kernel (build-id ${short(info.buildId)}, running ${short(running)}): for the vmlinux of kernel ${rel}, ${vmlinuxFix(rel, options.naming)}`,
      )
    }
    return 'match'
  }
  if (!moduleLoaded(name, options)) {
    if (options.allowNotLoaded) return 'not-loaded'
    throw new KprobecovError(
      'EMODULE_NOT_LOADED',
      `module ${name} is not loaded: load it first (sudo insmod ${info.path}, or sudo modprobe ${name})`,
    )
  }
  const loaded = loadedBuildId(name, options)
  if (info.buildId !== '' && loaded !== undefined) {
    if (loaded !== info.buildId) throw mismatch(info, name, `build-id ${short(info.buildId)}, loaded ${short(loaded)}`)
    return 'match'
  }
  const srcversion = readText(join(sysRoot(options), 'module', name, 'srcversion'))?.trim()
  if (info.srcversion !== '' && srcversion !== undefined && srcversion !== '') {
    if (srcversion !== info.srcversion) throw mismatch(info, name, `srcversion ${info.srcversion}, loaded ${srcversion}`)
    return 'match'
  }
  return 'unverified'
}

const short = (id: string): string => id.slice(0, 12)

function mismatch(info: DebugInfo, name: string, what: string): KprobecovError {
  return new KprobecovError(
    'EBUILDID',
    `${info.path} is not the loaded ${name} (${what}): reload it (sudo rmmod ${name} && sudo insmod ${info.path}) or point at the .ko it was loaded from`,
  )
}

export interface ModuleObjectOptions extends SystemPaths {
  /** Kernel release; default the running one (uname -r). */
  release?: string
  /** Root of the module trees; default /lib/modules. */
  modulesDir?: string
  /** Ask `modinfo -n` first (only with the default modulesDir); default true. */
  modinfo?: boolean
  /** How the fixes name the .ko (default OPTIONS_NAMING). */
  naming?: Naming
}

/**
 * The file a module is loaded from: `modinfo -k <release> -n <name>`, else
 * the entry of <modulesDir>/<release>/modules.dep whose file name is the
 * module's ('-' and '_' alike; .ko, .ko.xz, .ko.zst, .ko.gz). The path is
 * returned as found: loadDebugInfo() reads compressed modules too.
 * Throws KprobecovError EMODULE_BUILTIN for built-in code (use 'vmlinux'),
 * ENOENT when no such module is installed for that kernel.
 */
export function moduleObjectPath(name: string, options: ModuleObjectOptions = {}): string {
  const rel = options.release ?? release()
  const modulesDir = options.modulesDir ?? '/lib/modules'
  const want = normaliseModuleName(name)
  const naming = options.naming ?? OPTIONS_NAMING
  const tree = join(modulesDir, rel)
  if (options.modinfo !== false && options.modulesDir === undefined) {
    try {
      const out = execFileSync('modinfo', ['-k', rel, '-n', name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim()
      if (out.startsWith('/')) return out
    } catch {
      // not installed, or modinfo missing: modules.dep decides
    }
  }
  const short = (file: string): string => normaliseModuleName(basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, ''))
  const dep = readText(join(tree, 'modules.dep'))
  for (const line of dep?.split('\n') ?? []) {
    const file = line.slice(0, line.indexOf(':'))
    if (file !== '' && short(file) === want) return file.startsWith('/') ? file : join(tree, file)
  }
  const builtin = readText(join(tree, 'modules.builtin'))
  if (builtin?.split('\n').some((file) => file !== '' && short(file) === want)) {
    throw new KprobecovError(
      'EMODULE_BUILTIN',
      `${name} is built into kernel ${rel}, not a module: ${naming.builtIn(name)}`,
    )
  }
  throw new KprobecovError(
    'ENOENT',
    dep === undefined
      ? `no module tree for kernel ${rel} (${join(tree, 'modules.dep')} is missing) to find ${name} in: ${naming.giveKo(name)}`
      : `no module ${name} is installed for kernel ${rel}: ${naming.giveKo(name)}`,
  )
}
