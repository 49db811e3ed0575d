/**
 * What the queries (status, unhit, callers, paths) read: a run measured now
 * by a collector of this process (the kernel answers: GET_PROBE_STATUS,
 * NEXT_UNHIT, GET_CALLERS, the edge counters), or a run saved by
 * `kprobecov run` (the same answers, from kprobecov-run.json).
 */
import { ProbeState } from '../device/collector.ts'
import { KprobecovError } from '../errors.ts'
import type { ProbeKind } from '../plan/types.ts'
import type { QueryTarget, UnhitKind } from './args.ts'
import { Progress, type CliIO } from './io.ts'
import { readRun, type CallersOf, type RunData } from './record.ts'
import { Session } from './session.ts'

export interface QuerySource {
  readonly run: RunData
  /** The measured command's exit status (live, with a command). */
  readonly exitStatus: number | undefined
  /** The `skip`-th never-hit probe of a kind (from index `from`), undefined when there is none. */
  nextUnhit(kind: UnhitKind, skip: number, from?: number): number | undefined
  /** Callers of a function-entry probe. Throws KprobecovError when they were not recorded. */
  callersOf(probe: number): CallersOf
  close(): void
}

/** The kinds of probe `unhit --kind` looks at: every probe proves lines. */
export function unhitKinds(kind: UnhitKind): ProbeKind[] {
  return kind === 'line' ? [] : [kind]
}

export const NO_CALLERS = 'this run was made without --callers: run it again with kprobecov run --callers'

export interface LiveNeeds {
  callers?: boolean
  edgeBits?: number
}

export async function openSource(target: QueryTarget, io: CliIO, needs: LiveNeeds = {}): Promise<QuerySource> {
  if (target.kind === 'saved') return savedSource(readRun(target.out))
  const { live, command } = target
  const progress = new Progress(io.stderr, live.progress)
  const session = Session.open({
    ...live, system: io.system, progress, callers: needs.callers ?? false, edgeBits: needs.edgeBits ?? 0, command, io,
  })
  try {
    const exitStatus = command === undefined ? undefined : await session.runCommand(command, io)
    progress.clear()
    const run = session.snapshot()
    return {
      run,
      exitStatus,
      nextUnhit(kind, skip, from = 0) {
        return session.collector.nextUnhit({ kinds: unhitKinds(kind), skip, from })
      },
      callersOf(probe) {
        if (!needs.callers) throw new KprobecovError('ENODATA', 'callers were not recorded')
        return session.callersOf(probe)
      },
      close() {
        session.close()
      },
    }
  } catch (e) {
    session.close()
    throw e
  }
}

export function savedSource(run: RunData): QuerySource {
  return {
    run,
    exitStatus: undefined,
    nextUnhit(kind, skip, from = 0) {
      const kinds = unhitKinds(kind)
      for (let i = from; i < run.plan.probes.length; i++) {
        const state = run.state[i] ?? 0
        if (state & (ProbeState.FAILED | ProbeState.HIT)) continue
        if (kinds.length > 0 && !kinds.includes(run.plan.probes[i]!.kind)) continue
        if (skip-- === 0) return i
      }
      return undefined
    },
    callersOf(probe) {
      if (!run.callers) throw new KprobecovError('ENODATA', NO_CALLERS)
      return run.callers.get(probe) ?? { callers: [], overflow: 0n }
    },
    close() {},
  }
}
