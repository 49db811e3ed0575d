/**
 * The targets of a measurement, from the user's config to the plan: one
 * record per module (SessionModule) carries every per-module option; it is
 * read and checked against what is loaded (TargetModule: the record with its
 * object, debug info and load state), then planned into probes, each at the
 * record's own granularity. Errors are KprobecovErrors whose fix is said in
 * the caller's Naming.
 */
import type { DebugInfo } from '../debuginfo/types.ts'
import type { Granularity } from '../defaults.ts'
import { checkModuleMatches, moduleObjectPath, type ModuleMatch, type SystemSetup } from '../device/system.ts'
import { VMLINUX, vmlinuxObjectPath } from '../device/vmlinux.ts'
import { KprobecovError } from '../errors.ts'
import { OPTIONS_NAMING, type Naming } from '../naming.ts'
import { loadTargetDebugInfo } from '../native/target.ts'
import type { PathOptions } from '../coverage/paths.ts'
import { planProbes } from '../plan/plan.ts'
import type { Plan } from '../plan/types.ts'
import { quiet, type ProgressListener } from './progress.ts'

/** A module (or vmlinux) to measure, as the user gave it. */
export interface SessionModule {
  /** The module's name ('_' for '-'), or 'vmlinux'. */
  name: string
  /** Its .ko (or vmlinux); undefined: the installed one (modinfo, or the debug package). */
  object?: string | undefined
  granularity: Granularity
  /**
   * The code under test loads it (again): it may be missing now, and its
   * __init code runs then (probes on it count; KCOV keeps its init sites).
   */
  loadedByTests: boolean
  /** vmlinux only: globs of the kernel tree's files / of function names to measure. */
  sources?: string[]
  functions?: string[]
}

/** A module read and checked: its object, debug info and whether the loaded module is that build. */
export interface TargetModule extends SessionModule {
  object: string
  debugInfo: DebugInfo
  loaded: ModuleMatch
}

export interface PrepareOptions {
  system: SystemSetup
  /** How fixes name an object (default the front ends' options). */
  naming?: Naming
  progress?: ProgressListener
}

/**
 * Finds, reads and checks the object of each module (a .ko or vmlinux). A
 * module that is not loaded is allowed here (its probes wait for it); the
 * caller decides whether its user may leave it unloaded.
 */
export function prepareModules(modules: readonly SessionModule[], options: PrepareOptions): TargetModule[] {
  const { system } = options
  const naming = options.naming ?? OPTIONS_NAMING
  const progress = options.progress ?? quiet
  return modules.map((m) => {
    const object = m.object ?? findObject(m.name, system, naming)
    progress({ type: 'step', text: `reading the debug info of ${object}` })
    const debugInfo = loadTargetDebugInfo(m.name, object, system.release, naming)
    const loaded = checkModuleMatches(debugInfo, { ...system, allowNotLoaded: true, naming })
    return { ...m, object, debugInfo, loaded }
  })
}

/** The installed object of a module (moduleObjectPath), or vmlinux's (vmlinuxObjectPath). */
export function findObject(name: string, system: SystemSetup, naming: Naming = OPTIONS_NAMING): string {
  return name === VMLINUX ? vmlinuxObjectPath({ ...system, naming }) : moduleObjectPath(name, { ...system, naming })
}

const globsOf = (m: SessionModule): Pick<SessionModule, 'sources' | 'functions'> => ({
  ...(m.sources !== undefined ? { sources: m.sources } : {}),
  ...(m.functions !== undefined ? { functions: m.functions } : {}),
})

/** The probes of the modules, each at its granularity; ENODATA when there are none. */
export function planModules(modules: readonly TargetModule[], paths: PathOptions, progress: ProgressListener = quiet): Plan {
  progress({ type: 'step', text: 'planning probes' })
  const plan = planProbes(
    modules.map((m) => ({ target: { name: m.name, object: m.object, granularity: m.granularity, ...globsOf(m) }, debugInfo: m.debugInfo })),
    paths,
  )
  modules.forEach((m, i) => {
    if (m.name !== VMLINUX || plan.functions.some((f) => f.target === i)) return
    const globs = [...(m.sources ?? []).map((g) => `source ${g}`), ...(m.functions ?? []).map((g) => `function ${g}`)].join(', ')
    throw new KprobecovError('ENODATA', `no function of ${m.object} matches ${globs}: source globs match paths in the kernel tree (kernel/sys.c, fs/ext4/**), function globs the names of its functions`)
  })
  if (plan.probes.length === 0) {
    throw new KprobecovError('ENODATA', `no probes to plant: ${modules.map((m) => m.object).join(', ')} has no function with debug info`)
  }
  return plan
}
