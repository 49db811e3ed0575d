/** The CLI's way of naming a module's object in a fix: --module NAME=PATH (see naming.ts). */
import type { Naming } from '../naming.ts'

export const CLI_NAMING: Naming = {
  giveKo: (name) => `give its .ko: --module ${name}=PATH.ko`,
  givePath: (name) => `give its path: --module ${name}=PATH`,
  builtIn: () => 'measure it with --module vmlinux and --sources GLOB (its files) or --functions GLOB',
  useModule: (actual, object) => `use --module ${actual}=${object}`,
}
