/**
 * Loading and unloading kprobecov.ko with insmod and rmmod, and what the
 * system says about the loaded one (/sys/module/kprobecov). Every refusal
 * becomes one line that names the fix: not root, Secure Boot's signature
 * enforcement, a build for another kernel, a module in use.
 */
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { findProgram } from './programs.ts'

export const MODULE_NAME = 'kprobecov'

export interface LoadedModule {
  version: string | undefined
  srcversion: string | undefined
  /** Module parameters as /sys/module/kprobecov/parameters shows them. */
  params: Record<string, string>
}

const readTrim = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** The loaded kprobecov.ko, or undefined when it is not loaded. */
export function loadedModule(sys = '/sys'): LoadedModule | undefined {
  const dir = join(sys, 'module', MODULE_NAME)
  if (!existsSync(join(dir, 'initstate'))) return undefined
  const params: Record<string, string> = {}
  try {
    for (const p of readdirSync(join(dir, 'parameters')).sort()) params[p] = readTrim(join(dir, 'parameters', p)) ?? '?'
  } catch {
    // a module without parameters
  }
  return { version: readTrim(join(dir, 'version')), srcversion: readTrim(join(dir, 'srcversion')), params }
}

function needProgram(name: string, env: Record<string, string | undefined>): string {
  const p = findProgram(name, env)
  if (p === undefined) throw new KprobecovError('EKMODLOAD', `${name} is not installed: install kmod (Debian/Ubuntu: sudo apt-get install kmod)`)
  return p
}

/** A field of the .ko's .modinfo (modinfo -F), or undefined. */
export function modinfoField(ko: string, field: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const modinfo = findProgram('modinfo', env)
  if (modinfo === undefined) return undefined
  const r = spawnSync(modinfo, ['-F', field, ko], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() || undefined : undefined
}

export const sudoHint = (what: string): string => `${what} needs root: run it with sudo (sudo npx kprobecov module ${what.split(' ')[0]})`

/** The fix for insmod's complaint (its strerror), one line. */
export function insmodFailure(stderr: string, ko: string, release: string, root: boolean): KprobecovError {
  const said = stderr.trim().split('\n').pop() ?? ''
  let fix: string
  if (/Key was rejected by service|Required key not available|Key has expired/i.test(said)) {
    fix = `the kernel loads only signed modules (Secure Boot): sign ${ko} with your Machine Owner Key (see the README's "Secure Boot"), or use a machine without signature enforcement`
  } else if (/Operation not permitted/i.test(said)) {
    fix = root
      ? 'the kernel refuses to load modules (kernel lockdown under Secure Boot, or kernel.modules_disabled=1): sign the module with your Machine Owner Key, or reboot without the lock'
      : sudoHint('load')
  } else if (/Invalid module format/i.test(said)) {
    fix = `${ko} was built for another kernel than the running ${release}: build it again (sudo npx kprobecov module load --rebuild), with the headers of ${release}`
  } else if (/Unknown symbol/i.test(said)) {
    fix = 'the kernel lacks functions kprobecov.ko needs (dmesg names them): it needs CONFIG_KPROBES, as distribution kernels have'
  } else if (/File exists/i.test(said)) {
    fix = 'a kprobecov module is loaded already: unload it first (sudo npx kprobecov module unload)'
  } else {
    fix = 'see dmesg for the kernel\'s reason'
  }
  return new KprobecovError('EKMODLOAD', `cannot load ${ko} (${said.replace(/^insmod: ERROR: /, '') || 'insmod failed'}): ${fix}`)
}

export interface LoadOptions {
  ko: string
  /** name=value pairs for insmod. */
  params: readonly string[]
  /** Give /dev/kprobecov to this group (read-write for it unless dev_mode is among params). */
  group?: string
  release: string
  env?: Record<string, string | undefined>
  /** The device node; default /dev/kprobecov. */
  dev?: string
}

/** The gid of a group name (or a number), from /etc/group. */
export function groupId(group: string, etcGroup = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group)
  for (const line of (readTrim(etcGroup) ?? '').split('\n')) {
    const [name, , gid] = line.split(':')
    if (name === group && gid !== undefined) return Number(gid)
  }
  throw new KprobecovError('EKMODLOAD', `there is no group '${group}': create it first (sudo groupadd ${group}) and add the developers to it`)
}

/**
 * insmod with the parameters; then the device node's group. Returns the
 * parameters given to insmod. Throws EKMODLOAD naming the fix.
 */
export function insmod(o: LoadOptions): string[] {
  const env = o.env ?? process.env
  const root = process.getuid?.() === 0
  if (!root) throw new KprobecovError('EKMODLOAD', sudoHint('load'))
  const gid = o.group === undefined ? undefined : groupId(o.group)
  const params = [...o.params]
  if (gid !== undefined && !params.some((p) => p.startsWith('dev_mode='))) params.push('dev_mode=0660')
  const r = spawnSync(needProgram('insmod', env), [o.ko, ...params], { encoding: 'utf8' })
  if (r.status !== 0) throw insmodFailure(`${r.stderr ?? ''}${r.error?.message ?? ''}`, o.ko, o.release, root)
  if (gid !== undefined) {
    const dev = o.dev ?? '/dev/kprobecov'
    if (!existsSync(dev)) throw new KprobecovError('EKMODLOAD', `${dev} did not appear after loading: is devtmpfs mounted on /dev?`)
    chownSync(dev, statSync(dev).uid, gid)
  }
  return params
}

/** rmmod kprobecov. Throws EKMODLOAD naming the fix (in use, not root). */
export function rmmod(env: Record<string, string | undefined> = process.env): void {
  if (process.getuid?.() !== 0) throw new KprobecovError('EKMODLOAD', sudoHint('unload'))
  const r = spawnSync(needProgram('rmmod', env), [MODULE_NAME], { encoding: 'utf8' })
  if (r.status === 0) return
  const said = (r.stderr ?? '').trim().split('\n').pop() ?? ''
  const fix = /in use/i.test(said)
    ? 'a test run or a kprobecov command still has /dev/kprobecov open: end it, then unload'
    : 'see dmesg for the kernel\'s reason'
  throw new KprobecovError('EKMODLOAD', `cannot unload kprobecov (${said.replace(/^rmmod: ERROR: /, '') || 'rmmod failed'}): ${fix}`)
}
