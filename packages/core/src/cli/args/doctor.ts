/** kprobecov doctor: its options, help and builder. */
import { DEFAULT_GRANULARITY, GRANULARITIES, type Granularity } from '../../defaults.ts'
import { DEFAULT_DEVICE } from '../../device/collector.ts'
import { oneOf, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { VMLINUX_GLOBS, LIVE, GLOBS_HELP, moduleSpecs, type ModuleSpec } from './shared.ts'

export const DOCTOR_SPEC: CommandSpec = {
  summary: 'check the kernel, the device, permissions and debug info; say how to fix each problem',
  usage: 'kprobecov doctor [--module NAME[=PATH.ko] | vmlinux --sources GLOB]... [--device PATH]',
  options: { module: LIVE.module, ...VMLINUX_GLOBS, device: LIVE.device, granularity: LIVE.granularity },
  help: `
  -m, --module NAME[=PATH.ko]  also check this module's .ko: debug info, that it is the loaded
                               one, and how many probes it gets
  -m, --module vmlinux[=PATH]  also check the vmlinux (default: where debug packages install it):
                               debug info, that it is the running kernel's, the probes of the code
                               --sources and --functions choose${GLOBS_HELP}
  -g, --granularity KIND       for that count: function, line or branch (default branch)
      --device PATH            the kprobecov device (default ${DEFAULT_DEVICE})`,
  positionals: [0, 0],
  after: 'no',
}

export interface DoctorOptions {
  modules: ModuleSpec[]
  device: string
  granularity: Granularity
}

export function doctorOptions(p: Parsed, cwd: string): DoctorOptions {
  return {
    modules: moduleSpecs(p, cwd),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
    granularity: oneOf(p, 'granularity', GRANULARITIES, DEFAULT_GRANULARITY),
  }
}
