/** kprobecov run: its options, help and builder. */
import {
  BACKENDS, BACKEND_ENV, DEFAULT_BACKEND, DEFAULT_EDGE_BITS, DEFAULT_KCOV_BUFFER, DEFAULT_OUT, MAX_KCOV_BUFFER, MIN_KCOV_BUFFER, type Backend,
} from '../../defaults.ts'
import { DEFAULT_DEVICE } from '../../device/collector.ts'
import { VMLINUX } from '../../device/vmlinux.ts'
import { MAX_EDGE_BITS } from '../../native/abi.ts'
import { UsageError, flag, int, oneOf, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE, OUT, REPORTER, LIVE_HELP, REPORTER_HELP, liveOptions, reporters, outDir, type LiveOptions, type ReporterChoice } from './shared.ts'

export const RUN_SPEC: CommandSpec = {
  summary: 'run a command and measure the kernel code it (and its children) runs',
  usage: 'kprobecov run --module NAME[=PATH.ko] [options] -- CMD [ARGS...]',
  options: {
    ...LIVE, ...OUT, ...REPORTER,
    callers: { type: 'boolean' },
    'edge-bits': { type: 'string' },
    backend: { type: 'string', short: 'b' },
    'kcov-buffer': { type: 'string' },
  },
  help: `${LIVE_HELP}
  -o, --out DIR                where the reports and the saved run go (default ${DEFAULT_OUT});
                               replaced as a whole when the run succeeds, kept when it fails${REPORTER_HELP}
      --callers                record the callers of every function (for kprobecov callers)
      --edge-bits N            log2 of the edge counters (for kprobecov paths; default ${DEFAULT_EDGE_BITS}, 0: none)
  -b, --backend NAME           kprobe (kprobecov.ko), kcov (the kernel's KCOV: CONFIG_KCOV, and the
                               module built with its instrumentation) or auto (default, or
                               $KPROBECOV_BACKEND): kprobe when ${DEFAULT_DEVICE} exists, else kcov
      --kcov-buffer N          kcov: records each thread holds between drains (default ${DEFAULT_KCOV_BUFFER})`,
  notes: `Writes DIR/lcov.info (and what the reporters write) and DIR/kprobecov-run.json, the
saved run that report, status, unhit, callers and paths read. Exits with the command's
status. With --backend kcov, CMD and the processes it starts trace themselves (a library
in LD_PRELOAD: not static or set-uid programs) and count once they have exited; --callers
and --edge-bits are kprobe's. Example:
  kprobecov run --module mydrv=build/mydrv.ko -- ./test/smoke.sh`,
  positionals: [0, 0],
  after: 'required',
}

export interface RunOptions extends LiveOptions, ReporterChoice {
  out: string
  callers: boolean
  edgeBits: number
  /** undefined: not given ($KPROBECOV_BACKEND, else auto). */
  backend: Backend | undefined
  kcovBuffer: number
  command: string[]
}

export function runOptions(p: Parsed, cwd: string): RunOptions {
  const backend = str(p, 'backend') === undefined ? undefined : oneOf(p, 'backend', BACKENDS, DEFAULT_BACKEND)
  if (backend === 'kcov') {
    if (flag(p, 'callers')) throw usage(p, '--callers needs --backend kprobe: KCOV does not record callers')
    if (str(p, 'edge-bits') !== undefined) throw usage(p, '--edge-bits needs --backend kprobe: KCOV does not count edges')
  }
  if (backend === 'kprobe' && str(p, 'kcov-buffer') !== undefined) throw usage(p, '--kcov-buffer is for --backend kcov')
  const live = liveOptions(p, cwd)
  if (backend === 'kcov' && live.modules.some((m) => m.name === VMLINUX)) {
    throw usage(p, '--module vmlinux is measured with kprobes: use --backend kprobe (KCOV maps loadable modules only)')
  }
  return {
    ...live,
    out: outDir(p, cwd),
    reporters: reporters(p),
    callers: flag(p, 'callers'),
    edgeBits: int(p, 'edge-bits', 0, MAX_EDGE_BITS, DEFAULT_EDGE_BITS),
    backend,
    kcovBuffer: int(p, 'kcov-buffer', MIN_KCOV_BUFFER, MAX_KCOV_BUFFER, DEFAULT_KCOV_BUFFER),
    command: p.argv!,
  }
}

/** The backend a run uses: the option, else $KPROBECOV_BACKEND, else auto. UsageError for a bad variable. */
export function backendOf(o: Pick<RunOptions, 'backend'>, env: Record<string, string | undefined>): Backend {
  if (o.backend !== undefined) return o.backend
  const v = env[BACKEND_ENV]
  if (v === undefined || v === '') return DEFAULT_BACKEND
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new UsageError(`kprobecov run: ${BACKEND_ENV} must be kprobe, kcov or auto, not '${v}'`)
  }
  return v as Backend
}
