/** The backends by name: a new backend is a file implementing Backend and a line here (and its name in defaults.ts). */
import type { Backend, BackendName, BackendOptions } from './backend.ts'
import { KcovBackend } from './kcov.ts'
import { KprobeBackend } from './kprobe.ts'

const BACKEND_OPENERS: Record<BackendName, (options: BackendOptions) => Backend> = {
  kprobe: (options) => KprobeBackend.open(options),
  kcov: (options) => KcovBackend.open('pc', options),
}

/** Opens backend `name` on the options' modules (read, checked, planned). Throws KprobecovError naming the fix. */
export function openBackend(name: BackendName, options: BackendOptions): Backend {
  return BACKEND_OPENERS[name](options)
}
