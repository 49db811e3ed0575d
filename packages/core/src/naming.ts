/**
 * How a fix names what the user gives. Errors below the front ends end with
 * a fix; the part of it that depends on where the user names a module's
 * object (the front ends' `object` option, the CLI's --module NAME=PATH) is
 * asked of the caller's Naming. OPTIONS_NAMING is the front ends' and the
 * default; the CLI has its own (cli/naming.ts).
 */
export interface Naming {
  /** After "no module NAME is installed ...: ": how to give the module's .ko. */
  giveKo(name: string): string
  /** After "install linux-image-R-dbg (Debian) or ": how to give the path of NAME (vmlinux). */
  givePath(name: string): string
  /** After "NAME is built into kernel R, not a module: ": how to measure built-in code. */
  builtIn(name: string): string
  /** After "OBJECT is the module ACTUAL, not NAME: ": how to measure ACTUAL with that object. */
  useModule(actual: string, object: string): string
}

/** The front ends' options: { name, object, sources, functions }. */
export const OPTIONS_NAMING: Naming = {
  giveKo: () => "give the .ko's path (object)",
  givePath: () => 'give its path (object)',
  builtIn: () => "measure it as 'vmlinux' (with sources/functions globs)",
  useModule: (actual) => `use name: '${actual}'`,
}
