/**
 * kprobecov doctor: checks what a measurement needs, one line each, ✓ or ✗;
 * every ✗ line says how to fix it. The kernel (kprobes, module loading),
 * kprobecov.ko, libkprobecov.so, the device and the permission to use it,
 * and for each --module: its .ko, its debug info, that it is the loaded
 * build, and how many probes it gets. Exits 1 when a check failed.
 */
import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import path from 'node:path'
import { Collector } from '../../device/collector.ts'
import { checkModuleMatches, kprobesState, moduleLoaded } from '../../device/system.ts'
import { VMLINUX } from '../../device/vmlinux.ts'
import { loadTargetDebugInfo } from '../../native/target.ts'
import { locateNativeLibrary } from '../../native/lib.ts'
import { planProbes } from '../../plan/plan.ts'
import { doctorOptions, type Parsed } from '../args.ts'
import type { CliIO } from '../io.ts'
import { findObject } from '../../session/modules.ts'
import { CLI_NAMING } from '../naming.ts'

interface Check {
  ok: boolean
  text: string
}

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replaceAll('\n', ' ')

export function doctor(parsed: Parsed, io: CliIO): number {
  const o = doctorOptions(parsed, io.cwd)
  const sys = io.system.sys ?? '/sys'
  const proc = io.system.proc ?? '/proc'
  const checks: Check[] = []
  const ok = (text: string) => checks.push({ ok: true, text })
  const bad = (text: string) => checks.push({ ok: false, text })
  const rel = io.system.release ?? release()

  switch (kprobesState(io.system)) {
    case 'enabled': ok(`kprobes: available (kernel ${rel})`); break
    case 'disabled': bad('kprobes are switched off (probes would never fire): echo 1 | sudo tee /sys/kernel/debug/kprobes/enabled'); break
    case 'absent': bad(`kernel ${rel} has no kprobes (CONFIG_KPROBES is not set): use a kernel built with CONFIG_KPROBES=y, as distribution kernels are`); break
    default: bad(`cannot tell whether kernel ${rel} has kprobes (${proc}/kallsyms is not readable): run kprobecov doctor as root`)
  }

  const kprobecovLoaded = moduleLoaded('kprobecov', io.system)
  if (!existsSync(path.join(proc, 'modules'))) {
    bad(`kernel ${rel} cannot load modules (no ${proc}/modules: CONFIG_MODULES is not set): use a kernel with module support`)
  } else if (read(path.join(proc, 'sys/kernel/modules_disabled')) === '1') {
    bad('module loading is switched off until the next boot (kernel.modules_disabled=1): reboot, and load kprobecov.ko before it is switched off')
  } else {
    ok('modules: the kernel loads modules')
  }
  if (!kprobecovLoaded) {
    const lockdown = /\[(integrity|confidentiality)\]/.exec(read(path.join(sys, 'kernel/security/lockdown')) ?? '')?.[1]
    if (read(path.join(sys, 'module/module/parameters/sig_enforce')) === 'Y' || lockdown !== undefined) {
      bad(`the kernel loads only signed modules (${lockdown ? `lockdown=${lockdown}` : 'module.sig_enforce=1'}): sign kprobecov.ko with your Machine Owner Key (see the README's "Secure Boot"), or use a test machine without Secure Boot`)
    }
  }
  if (kprobecovLoaded) ok('kprobecov.ko: loaded')
  else bad('kprobecov.ko is not loaded: build and load it: sudo npx kprobecov module load')

  let library = false
  try {
    ok(`libkprobecov.so: ${locateNativeLibrary(io.env as NodeJS.ProcessEnv)}`)
    library = true
  } catch (e) {
    bad(messageOf(e))
  }
  if (!kprobecovLoaded && !existsSync(o.device)) {
    bad(`${o.device} is missing: it appears when kprobecov.ko is loaded (see above)`)
  } else if (library) {
    try {
      const c = Collector.open(o.device, io.system)
      const l = c.limits
      c.close()
      const uid = process.getuid?.()
      ok(`${o.device}: opens read-write, ABI ${l.abi} (max_probes ${l.maxProbes}, max_slots ${l.maxSlots}, max_callers ${l.maxCallers})`)
      ok(uid === 0
        ? 'permissions: root (any process can be measured)'
        : `permissions: uid ${uid} can use ${o.device} for its own processes (watching every task, or other users' processes, needs root)`)
    } catch (e) {
      bad(messageOf(e))
    }
  }

  for (const spec of o.modules) {
    let object: string
    let di
    try {
      object = spec.object ?? findObject(spec.name, io.system, CLI_NAMING)
      di = loadTargetDebugInfo(spec.name, object, rel, CLI_NAMING)
    } catch (e) {
      bad(messageOf(e))
      continue
    }
    ok(`${object}: debug info of ${di.functions.length} functions (build-id ${di.buildId.slice(0, 12) || 'none'})`)
    try {
      const match = checkModuleMatches(di, { ...io.system, allowNotLoaded: true, naming: CLI_NAMING })
      if (spec.name === VMLINUX) ok(match === 'match' ? `vmlinux: the running kernel's (same build-id)` : `vmlinux: it has no build-id to compare: make sure it is the running kernel's`)
      else if (match === 'match') ok(`${spec.name}: loaded, and the same build as ${object}`)
      else if (match === 'unverified') ok(`${spec.name}: loaded (it has no build-id or srcversion to compare: make sure it was loaded from ${object})`)
      else ok(`${spec.name}: not loaded: its probes are planted when it loads (load it in the measured command to cover module_init)`)
    } catch (e) {
      bad(messageOf(e))
      continue
    }
    try {
      const target = { ...spec, object, granularity: o.granularity }
      const plan = planProbes([{ target, debugInfo: di }], { root: io.cwd })
      const skipped = plan.skipped?.length ?? 0
      ok(`${spec.name}: ${plan.probes.length} probes in ${plan.functions.length} functions at granularity ${o.granularity}` +
        (skipped > 0 ? ` (${skipped} functions or branches left out: kprobecov status after a run shows what is probed)` : ''))
    } catch (e) {
      bad(messageOf(e))
    }
  }

  const failed = checks.filter((c) => !c.ok).length
  io.stdout.write(checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.text}\n`).join(''))
  io.stdout.write(failed === 0 ? 'kprobecov is ready\n' : `${failed} problem${failed === 1 ? '' : 's'}: fix the ✗ line${failed === 1 ? '' : 's'} above\n`)
  return failed === 0 ? 0 : 1
}
