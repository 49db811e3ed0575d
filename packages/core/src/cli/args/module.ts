/** kprobecov module: its options, help and builder. */
import { DEFAULT_DEVICE } from '../../device/collector.ts'
import { flag, list, resolveIn, str, usage, type CommandSpec, type Parsed } from './base.ts'
import { LIVE } from './shared.ts'

export const MODULE_SPEC: CommandSpec = {
  summary: 'build kprobecov.ko for a kernel (cached), load, unload, show it, install it into DKMS',
  usage: 'kprobecov module build|load|unload|status|dkms [options]',
  options: {
    kdir: { type: 'string' },
    rebuild: { type: 'boolean' },
    reload: { type: 'boolean' },
    param: { type: 'string', short: 'p', multiple: true },
    group: { type: 'string' },
    device: LIVE.device,
  },
  help: `
      --kdir DIR               the kernel build tree to build against (default
                               /lib/modules/$(uname -r)/build, from the kernel's headers package)
      --rebuild                build again although the cache has this build
  -p, --param NAME=VALUE       load: a module parameter (repeatable), e.g. --param
                               max_probes=262144; see modinfo kprobecov
      --group GROUP            load: give ${DEFAULT_DEVICE} to GROUP, read-write for it
                               (dev_mode=0660 unless --param dev_mode is given): its members can
                               run tests without root
      --reload                 load: unload a kprobecov.ko that is loaded already first (another
                               version, or to change parameters)
      --device PATH            status: the device (default ${DEFAULT_DEVICE})`,
  notes: `  build   builds kprobecov.ko from the sources of @kprobecov/kmod against the kernel's headers,
          once per kernel release and source (cache: $KPROBECOV_CACHE, else ~/.cache/kprobecov)
  load    build (if needed), then insmod with the parameters; checks that the module speaks
          this version's ABI (root)
  unload  rmmod kprobecov (root)
  status  the loaded module: version, parameters, device, ABI; the cached build for this kernel
  dkms    installs the sources into DKMS (/usr/src/kprobecov-<version>), builds and installs the
          module for the running kernel; DKMS rebuilds it for every new kernel (root)
Example:
  sudo npx kprobecov module load --group kerneldev`,
  positionals: [1, 1],
  after: 'no',
}

export const MODULE_ACTIONS = ['build', 'load', 'unload', 'status', 'dkms'] as const
export type ModuleAction = (typeof MODULE_ACTIONS)[number]

export interface ModuleOptions {
  action: ModuleAction
  kdir: string | undefined
  rebuild: boolean
  reload: boolean
  params: string[]
  group: string | undefined
  device: string
}

export function moduleOptions(p: Parsed, cwd: string): ModuleOptions {
  const action = p.positionals[0] ?? ''
  if (!(MODULE_ACTIONS as readonly string[]).includes(action)) {
    throw usage(p, `unknown action '${action}': use one of ${MODULE_ACTIONS.join(', ')}`)
  }
  const params = list(p, 'param')
  for (const param of params) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=\S*$/.test(param)) throw usage(p, `--param wants NAME=VALUE, e.g. --param dev_mode=0660, not '${param}'`)
  }
  const kdir = str(p, 'kdir')
  return {
    action: action as ModuleAction,
    kdir: kdir === undefined ? undefined : resolveIn(cwd, kdir),
    rebuild: flag(p, 'rebuild'),
    reload: flag(p, 'reload'),
    params,
    group: str(p, 'group'),
    device: str(p, 'device') ?? DEFAULT_DEVICE,
  }
}
