/**
 * Planting a plan in a collector and arming it, and what to say about the
 * probes the kernel refused: those on the __init code of a module loaded
 * already are expected (that code ran and is gone), any other refusal is a
 * warning.
 */
import { constants } from 'node:os'
import type { Collector, ProbeSpec } from '../device/collector.ts'
import { errnoName } from '../errors.ts'
import type { Plan } from '../plan/types.ts'
import type { TargetModule } from './modules.ts'
import { quiet, type ProgressListener } from './progress.ts'

export interface FailedProbe {
  probe: number
  /** The kernel's -errno. */
  error: number
}

/** Probes per KPROBECOV_ADD_PROBES call when planting in the foreground (progress between batches). */
const BATCH = 4096
const { ENOENT } = constants.errno

const specsOf = (plan: Plan): ProbeSpec[] => plan.probes.map((p) => ({
  module: plan.targets[p.target]!.module, symbol: p.symbol, offset: p.offset, kind: p.kind, group: p.function,
}))

/** Adds the plan's probes to an initialised collector, in batches, and arms them; returns the refused ones. */
export function plantProbes(collector: Collector, plan: Plan, progress: ProgressListener = quiet): FailedProbe[] {
  const specs = specsOf(plan)
  const failed: FailedProbe[] = []
  const text = `planting ${specs.length} probes`
  for (let at = 0; at < specs.length; at += BATCH) {
    progress({ type: 'count', text, done: at, total: specs.length })
    const r = collector.addProbes(specs.slice(at, at + BATCH))
    r.error.forEach((error, k) => {
      if (error !== 0) failed.push({ probe: at + k, error })
    })
  }
  progress({ type: 'count', text, done: specs.length, total: specs.length })
  progress({ type: 'step', text: `arming ${specs.length} probes` })
  collector.arm('all')
  return failed
}

/** What a collector does to plant in the background (a fake's too, in unit tests). */
export type AsyncPlanter = Pick<Collector, 'addProbesAsync' | 'armAsync'>

/**
 * plantProbes off the main thread (the collector's *Async calls run on
 * libuv's pool): adds every probe in one call, then arms them. The event
 * loop goes on meanwhile; no progress.
 */
export async function plantProbesAsync(collector: AsyncPlanter, plan: Plan): Promise<FailedProbe[]> {
  const r = await collector.addProbesAsync(specsOf(plan))
  const failed: FailedProbe[] = []
  r.error.forEach((error, k) => {
    if (error !== 0) failed.push({ probe: k, error })
  })
  await collector.armAsync('all')
  return failed
}

/** Whether probe i of plan is on __init code (.init.text: freed once module_init returned). */
export function initProbe(plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  const p = plan.probes[i]!
  const m = modules[p.target]
  if (!m) return false
  const fn = m.debugInfo.functions.find((f) => f.symbol === p.symbol)
  return fn !== undefined && m.debugInfo.sections[fn.section]?.init === true
}

/** Probe i is on the __init code of a module the code under test loads (again): it counts when it does. */
export function reloadedInit(plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  return modules[plan.probes[i]!.target]?.loadedByTests === true && initProbe(plan, modules, i)
}

/**
 * The blind probes of a KCOV map (kcov/map.ts) that are on the __init code of
 * a module loaded already, as the refusals kprobes would give for them (the
 * symbols are gone with the code: ENOENT).
 */
export function initGoneProbes(plan: Plan, modules: readonly TargetModule[], blind: readonly number[]): FailedProbe[] {
  return blind.filter((i) => initCodeGone(plan, modules, i)).map((probe) => ({ probe, error: -ENOENT }))
}

/** Probe i is on the __init code of a module loaded before: that code ran and was freed. */
function initCodeGone(plan: Plan, modules: readonly TargetModule[], i: number): boolean {
  return initProbe(plan, modules, i) && modules[plan.probes[i]!.target]?.loaded !== 'not-loaded'
}

/**
 * What a refusal's errno means where kprobecov.ko gives it a meaning of its
 * own (the uapi header's list), after the errno's name; else the name alone.
 */
export function refusalReason(error: number): string {
  const name = errnoName(error)
  switch (name) {
    case 'EOVERFLOW':
      return `${name}: in the module's last function, which kprobes would decode past the end of the module's text`
    case 'ENOTSUP':
      return `${name}: on an ENDBR64 inside the function (an indirect-branch target), where a breakpoint would trap indirect jumps under IBT`
    default:
      return name
  }
}

export interface RefusalWording {
  /** How the caller's user covers module_init (ends the note on __init probes). */
  initHint: string
  /** What did not happen to refused probes: 'not planted'; 'not measured' for KCOV, whose map leaves them out. */
  notDone: string
  /** Where the user lists the refused probes (ends the warning), e.g. 'kprobecov status --probes lists them'. */
  listHint: string
}

/**
 * Probes the kernel refused count as not instrumented: a note for those on
 * the __init code of a module loaded already (expected), a warning for any
 * other refusal.
 */
export function tellRefused(
  plan: Plan, modules: readonly TargetModule[], failed: readonly FailedProbe[], progress: ProgressListener, wording: RefusalWording,
): void {
  if (failed.length === 0) return
  const init = failed.filter((f) => initCodeGone(plan, modules, f.probe))
  const other = failed.filter((f) => !initCodeGone(plan, modules, f.probe))
  if (init.length > 0) {
    const names = [...new Set(init.map((f) => plan.targets[plan.probes[f.probe]!.target]!.module))].join(', ')
    progress({ type: 'note', text: `${init.length} probes on the __init code of ${names} are ${wording.notDone}: it ran when the module loaded (${wording.initHint})` })
  }
  if (other.length > 0) {
    const first = other[0]!
    const p = plan.probes[first.probe]!
    progress({
      type: 'warning',
      text: `the kernel refused ${other.length} of ${plan.probes.length} probes (first: ${p.symbol}+0x${p.offset.toString(16)}, ${refusalReason(first.error)}): their lines are not counted (${wording.listHint})`,
    })
  }
}
