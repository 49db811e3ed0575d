/**
 * kprobecov module build|load|unload|status|dkms: kprobecov.ko from the
 * sources of @kprobecov/kmod, for the kernel a user runs, without a clone of
 * the repository. See module/ for the parts; this file only sequences them
 * and prints one line per step.
 */
import { existsSync, statSync } from 'node:fs'
import { Collector } from '../../device/collector.ts'
import { ABI_VERSION } from '../../native/abi.ts'
import { buildModule, cacheDir, cachedModulePath, kernelTree, type BuiltModule } from '../../module/build.ts'
import { dkmsInstall } from '../../module/dkms.ts'
import { insmod, loadedModule, modinfoField, rmmod, sudoHint } from '../../module/load.ts'
import { moduleSources } from '../../module/sources.ts'
import { KprobecovError } from '../../errors.ts'
import { version } from '../../version.ts'
import { moduleOptions, type ModuleOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'

function build(o: ModuleOptions, io: CliIO): BuiltModule {
  const sources = moduleSources(io.env)
  const tree = kernelTree(o.kdir, io.system.release)
  if (!existsSync(cachedModulePath(cacheDir(io.env), tree.release, sources.hash)) || o.rebuild) {
    io.stderr.write(`kprobecov: building kprobecov.ko ${version} against ${tree.kdir}\n`)
  }
  const built = buildModule({
    sources, tree, cache: cacheDir(io.env), force: o.rebuild, env: io.env,
    onFailureOutput: (text) => io.stderr.write(text),
  })
  io.stdout.write(`kprobecov.ko ${version} for ${built.release}: ${built.ko}${built.cached ? ' (cached)' : ''}\n`)
  return built
}

/** Opens the device once: the module answers, and speaks this version's ABI (else EABI naming the side to update). */
function checkDevice(device: string, io: CliIO): string {
  const c = Collector.open(device, io.system)
  c.close()
  return `${device} answers, ABI ${ABI_VERSION}`
}

function load(o: ModuleOptions, io: CliIO): number {
  if (process.getuid?.() !== 0) throw new KprobecovError('EKMODLOAD', sudoHint('load'))
  const built = build(o, io)
  const sys = io.system.sys ?? '/sys'
  const loaded = loadedModule(sys)
  if (loaded !== undefined) {
    const same = loaded.srcversion !== undefined && loaded.srcversion === modinfoField(built.ko, 'srcversion', io.env)
    if (!o.reload) {
      if (!same) {
        throw new KprobecovError('EKMODLOAD', `another kprobecov.ko (version ${loaded.version ?? 'unknown'}) is loaded: replace it with sudo npx kprobecov module load --reload (no test run may be using it)`)
      }
      io.stdout.write(`kprobecov.ko ${loaded.version ?? ''} is loaded already (this build)${o.params.length > 0 || o.group !== undefined ? ': its parameters stay as they are; --reload applies new ones' : ''}\n`)
      io.stdout.write(`${checkDevice(o.device, io)}\n`)
      return 0
    }
    rmmod(io.env)
    io.stdout.write(`unloaded kprobecov.ko ${loaded.version ?? ''}\n`)
  }
  const params = insmod({ ko: built.ko, params: o.params, release: built.release, env: io.env, dev: o.device, ...(o.group === undefined ? {} : { group: o.group }) })
  io.stdout.write(`loaded kprobecov.ko ${version}${params.length > 0 ? ` (${params.join(' ')})` : ''}${o.group === undefined ? '' : `, ${o.device} for group ${o.group}`}\n`)
  io.stdout.write(`${checkDevice(o.device, io)}\n`)
  return 0
}

function status(o: ModuleOptions, io: CliIO): number {
  const sys = io.system.sys ?? '/sys'
  const loaded = loadedModule(sys)
  let problems = 0
  if (loaded === undefined) {
    io.stdout.write('kprobecov.ko: not loaded (load it: sudo npx kprobecov module load)\n')
    problems++
  } else {
    io.stdout.write(`kprobecov.ko: loaded, version ${loaded.version ?? 'unknown'}, srcversion ${loaded.srcversion ?? 'unknown'}\n`)
    io.stdout.write(`parameters: ${Object.entries(loaded.params).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}\n`)
    if (existsSync(o.device)) {
      const st = statSync(o.device)
      io.stdout.write(`device: ${o.device} mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} uid ${st.uid} gid ${st.gid}\n`)
      try {
        io.stdout.write(`abi: ${checkDevice(o.device, io)}\n`)
      } catch (e) {
        io.stdout.write(`abi: ${e instanceof Error ? e.message : String(e)}\n`)
        problems++
      }
    } else {
      io.stdout.write(`device: ${o.device} is missing\n`)
      problems++
    }
    if (loaded.version !== undefined && loaded.version !== version) {
      io.stdout.write(`version: the loaded module is ${loaded.version}, @kprobecov/core is ${version}: sudo npx kprobecov module load --reload loads this version's\n`)
    }
  }
  try {
    const sources = moduleSources(io.env)
    const tree = kernelTree(o.kdir, io.system.release)
    const ko = cachedModulePath(cacheDir(io.env), tree.release, sources.hash)
    io.stdout.write(`build for ${tree.release}: ${existsSync(ko) ? ko : 'not built yet (kprobecov module build)'}\n`)
  } catch (e) {
    io.stdout.write(`build: ${e instanceof Error ? e.message : String(e)}\n`)
  }
  io.stdout.write(`@kprobecov/core ${version}, ABI ${ABI_VERSION}\n`)
  return problems === 0 ? 0 : 1
}

export function module(parsed: Parsed, io: CliIO): number {
  const o = moduleOptions(parsed, io.cwd)
  switch (o.action) {
    case 'build':
      build(o, io)
      return 0
    case 'load':
      return load(o, io)
    case 'unload':
      if (loadedModule(io.system.sys ?? '/sys') === undefined) {
        io.stdout.write('kprobecov.ko is not loaded\n')
        return 0
      }
      rmmod(io.env)
      io.stdout.write('unloaded kprobecov.ko\n')
      return 0
    case 'status':
      return status(o, io)
    case 'dkms': {
      const sources = moduleSources(io.env)
      const tree = kernelTree(o.kdir, io.system.release)
      const v = dkmsInstall({ sourcesDir: sources.dir, release: tree.release, env: io.env, log: (t) => io.stderr.write(t) })
      io.stdout.write(`kprobecov ${v} is in DKMS and installed for ${tree.release}: load it with sudo modprobe kprobecov\n`)
      return 0
    }
  }
}
