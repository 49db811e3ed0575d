/**
 * kprobecov vm, from options to exit status: the kernel (resolved, fetched
 * once), the modules (built on the host), the initramfs, the guest, and the
 * verdict: COMMAND's status, unless the guest's kernel reported a bug (1),
 * a module did not load (1), the guest ran out of memory or crashed (1), or
 * the deadline ran out (124, naming the phase).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import { freemem, release as hostRelease, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { cacheDir, kernelTree } from '../module/build.ts'
import type { Output } from '../reports/progress.ts'
import { AptSource, cachedKernel, debianKernel, type KernelEntry } from './debian.ts'
import { chooseAccel, findQemu, runGuest, writeCommandScript } from './guest.ts'
import { imageRelease } from './image.ts'
import { initramfs } from './initramfs.ts'
import { parseKernelSpec, resolveRelease, type KernelSource } from './kernel.ts'
import { buildDir, buildKprobecov } from './modules.ts'
import { Deadline, TIMEOUT_STATUS, type Phase } from './phases.ts'
import { firstReport, oomKilled } from './reports.ts'

/** A module file to load after the built ones, with its parameters (NAME=VALUE). */
export interface LoadSpec {
  ko: string
  params: string[]
}

/** What the user asks of a run (the CLI's options, paths absolute). */
export interface VmOptions {
  kernel: string | undefined
  /** With an image as kernel: the directory holding lib/modules/<release>. */
  modules: string | undefined
  /** Build and load kprobecov.ko (--no-kprobecov: false). */
  kprobecov: boolean
  builds: string[]
  loads: LoadSpec[]
  rw: string[]
  /** Where the guest's logs stay (undefined: a temporary directory, removed when the run passed). */
  out: string | undefined
  /** MiB. */
  mem: number
  cpus: number
  /** Seconds, every phase together. */
  timeout: number
  /** undefined: a shell (stdin a terminal). */
  argv: string[] | undefined
}

/** A run: the options, and where the command runs and writes. */
export interface VmRun extends VmOptions {
  cwd: string
  env: Record<string, string | undefined>
  stdinTty: boolean
  stdout: Output
  stderr: Output
  /** Where Debian kernels come from (tests: a FAKE). */
  source?: AptSource
}

/** Variables not passed into the guest: the shell's own bookkeeping. */
const NOT_PASSED = new Set(['PWD', 'OLDPWD', 'SHLVL', '_'])

/** QEMU options double commas, the kernel command line splits at spaces, kpc.rw at colons. */
function checkPath(p: string, what: string): void {
  if (/[\s,:]/.test(p)) throw new KprobecovError('EINVAL', `${what} ${p}: paths with spaces, commas or colons cannot be shared with the guest: move or link it elsewhere`)
}

/** A kernel to boot; kdir undefined: an image whose headers were not found (needed only to build modules). */
export type BootEntry = Omit<KernelEntry, 'kdir'> & { kdir: string | undefined }

/** The kernel to boot: an image path as given, else a Debian kernel from the cache (fetched once). */
export function kernelEntry(spec: string | undefined, o: { cache: string; source: KernelSource; deadline: Deadline; log: (s: string) => void; hostRelease?: string; modules?: string | undefined }): BootEntry {
  const parsed = spec === undefined ? undefined : parseKernelSpec(spec)
  if (parsed?.kind === 'image') return imageEntry(resolve(parsed.path), o.modules)
  if (o.modules !== undefined) throw new KprobecovError('EINVAL', `--modules goes with --kernel IMAGE (the path of a kernel image), not --kernel ${spec}: a Debian kernel brings its own modules`)
  // A release fetched before needs no look at apt's lists.
  const cached = parsed?.kind === 'release' ? cachedKernel(o.cache, parsed.release) : undefined
  if (cached) return cached
  const release = resolveRelease(parsed as Exclude<typeof parsed, { kind: 'image' }>, o.source, o.hostRelease ?? hostRelease())
  if (!(o.source instanceof AptSource)) throw new KprobecovError('ENOKERNEL', `${o.source.name} cannot fetch kernels`)
  return debianKernel(release, { cache: o.cache, source: o.source, deadline: o.deadline, log: o.log })
}

/**
 * A kernel image given by path. Its modules: --modules DIR's, else those of
 * an unpacked package beside it (IMAGE in D/boot/, modules in
 * D/lib/modules/<release>), else /lib/modules/<release> of the host, else
 * none (virtio-pci and 9p must be built in). Its headers: the kernel tree the
 * image was built in (it sits in arch/x86/boot/ or at the top), else
 * <modules>/build; none found: undefined.
 */
function imageEntry(image: string, given: string | undefined): BootEntry {
  if (!existsSync(image) || !statSync(image).isFile()) throw new KprobecovError('ENOKERNEL', `--kernel ${image}: no such file: give a series (6.12), a Debian release or the path of a kernel image`)
  const release = imageRelease(image)
  if (release === undefined) throw new KprobecovError('ENOKERNEL', `--kernel ${image} is no kernel image (no release string in it): give a bzImage or vmlinux`)
  let kdir: string | undefined
  for (let d = dirname(image), i = 0; i < 4 && dirname(d) !== d; d = dirname(d), i++) {
    try {
      if (kernelTree(d).release === release) kdir = d
    } catch {
      // not a built tree
    }
    if (kdir) break
  }
  if (given !== undefined && !existsSync(join(given, 'lib/modules', release))) {
    throw new KprobecovError('ENOKERNEL', `--modules ${given} holds no lib/modules/${release} (the release of ${image}): give the directory make modules_install INSTALL_MOD_PATH= wrote into`)
  }
  const modules = given ?? [dirname(dirname(image)), '/'].find((root) => existsSync(join(root, 'lib/modules', release, 'modules.dep')))
  for (const root of [...(modules === undefined ? [] : [modules]), '/']) {
    const build = join(root, 'lib/modules', release, 'build')
    if (kdir === undefined && existsSync(join(build, 'Makefile'))) kdir = build
  }
  return { release, image, modules, kdir }
}

/** The kbuild tree of the kernel, needed to build modules for it. */
function headers(kernel: BootEntry): string {
  if (kernel.kdir !== undefined) return kernel.kdir
  throw new KprobecovError('ENOKERNEL', `no headers for ${kernel.release}: install linux-headers-${kernel.release}, give the image from inside the kernel tree it was built in, or run with --no-kprobecov and no --build`)
}

/** The guest's environment: the caller's, but HOME where the guest can write. */
function guestEnv(env: Record<string, string | undefined>, writable: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !NOT_PASSED.has(k)) out[k] = v
  }
  const home = out.HOME
  if (home === undefined || !writable.some((w) => home === w || home.startsWith(`${w}/`))) out.HOME = '/tmp/home'
  out.KPROBECOV_VM = '1'
  return out
}

/** --out DIR, created if need be, without the files of an earlier run. */
function outDir(dir: string): string {
  mkdirSync(dir, { recursive: true })
  const out = realpathSync(dir)
  for (const f of OUT_FILES) rmSync(join(out, f), { force: true })
  return out
}

/** What a run writes into its output directory (cmd.sh is removed at the end). */
const OUT_FILES = ['cmd.sh', 'console.log', 'dmesg.log', 'exit-status', 'load-failed']

export async function vmRun(o: VmRun): Promise<number> {
  const deadline = new Deadline(o.timeout)
  const log = (s: string) => o.stderr.write(s.endsWith('\n') ? s : `${s}\n`)
  let phase: Phase = 'fetch'
  // No command: a shell, as virtme-ng gives, when there is a terminal to type into.
  const argv = o.argv ?? (o.stdinTty ? [o.env.SHELL && existsSync(o.env.SHELL) ? o.env.SHELL : '/bin/sh', '-i'] : undefined)
  if (argv === undefined) throw new KprobecovError('EINVAL', 'no command after -- and stdin is no terminal for a shell: give the command, e.g. kprobecov vm -- npm test')
  const qemu = findQemu(o.env)
  const accel = chooseAccel(o.env)
  const avail = Math.floor(freemem() / (1 << 20))
  if (o.mem > avail) throw new KprobecovError('ENOMEM', `--mem ${o.mem} is more than the host has free (${avail} MiB): give --mem ${Math.max(256, Math.floor(avail / 2 / 256) * 256)} or less`)
  const cwd = realpathSync(o.cwd)
  const given = [...new Set([cwd, ...o.rw.map((d) => {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new KprobecovError('ENOENT', `--rw ${d}: no such directory: create it first`)
    return realpathSync(d)
  })])]
  // A directory inside another one shared already is shared with it.
  const rw = given.filter((d) => !given.some((p) => d.startsWith(`${p}/`)))
  for (const d of rw) checkPath(d, 'directory')
  const cache = cacheDir(o.env)
  mkdirSync(cache, { recursive: true })

  // fetch
  const kernel = kernelEntry(o.kernel, { cache, source: o.source ?? new AptSource([], join(cache, 'debian-kernel', 'apt-answers.json')), deadline, log, modules: o.modules })
  checkPath(kernel.image, 'kernel')
  if (kernel.modules) checkPath(kernel.modules, 'module tree')

  // build
  phase = 'build'
  const loads: LoadSpec[] = o.kprobecov ? [{ ko: buildKprobecov(headers(kernel), o.env, log, deadline).ko, params: [] }] : []
  for (const dir of o.builds) loads.push(...buildDir(dir, headers(kernel), kernel.release, o.env, log, deadline).map((ko) => ({ ko, params: [] })))
  for (const l of o.loads) {
    if (!existsSync(l.ko)) throw new KprobecovError('EVMMODULE', `--load ${l.ko}: no such file: build it first (or use --build DIR)`)
    loads.push(l)
  }
  for (const l of loads) checkPath(l.ko, 'module')
  const moddir = kernel.modules === undefined ? undefined : join(kernel.modules, 'lib/modules', kernel.release)
  const initrd = initramfs(cache, kernel.release, moddir)

  // The output directory: cmd.sh in, exit status and kernel log out. Kept when the run failed
  // or when it is --out; a log of an earlier run there is not taken for this one's.
  const out = o.out === undefined ? mkdtempSync(join(tmpdir(), 'kprobecov-vm.')) : outDir(o.out)
  checkPath(out, 'directory')
  const env = guestEnv(o.env, rw)
  env.KPROBECOV_QEMU_ACCEL = accel
  writeCommandScript(out, { loads, env, cwd, argv })
  // Host directories under /tmp or /run the guest must still see: Node, the cache, the
  // modules, PATH's entries.
  const underTmp = (d: string) => /^\/(tmp|run)\//.test(d)
  const keep = [...new Set([dirname(dirname(process.execPath)), cache, ...loads.map((l) => dirname(l.ko)), ...(o.env.PATH ?? '').split(':')]
    .filter((d) => d !== '' && underTmp(d) && existsSync(d) && !/[\s,:]/.test(d)))]
  if (accel !== 'kvm') log(`kprobecov vm: ${o.env.KPROBECOV_QEMU_ACCEL ? `KPROBECOV_QEMU_ACCEL=${accel}` : 'no usable /dev/kvm'}: QEMU emulates the CPU (TCG, ${accel === 'tcg' ? 'a thread per vCPU' : 'one thread'}): boot ≈ 5 s, CPU-bound code ≈ 25x slower than on the host`)
  log(`kprobecov vm: booting kernel ${kernel.release} (${accel}, ${o.cpus} CPUs, ${o.mem} MiB)`)
  phase = 'boot'
  deadline.left(phase)
  const end = await runGuest({
    qemu, kernel: kernel.image, initrd, modules: kernel.modules, out, rw, keep, mem: o.mem, cpus: o.cpus, accel,
    stdinTty: o.stdinTty, timeoutMs: deadline.left(phase), console: o.stdout,
    onPhase: (p) => (phase = p),
    lock: join(cache, 'guest.lock'),
    onWait: () => log(`kprobecov vm: waiting for another guest of this machine to end (${join(cache, 'guest.lock')}); the timeout starts after`),
  })
  // cmd.sh holds the caller's environment (tokens, say): not kept, whatever happened.
  rmSync(join(out, 'cmd.sh'), { force: true })
  const kept = ` (console: ${join(out, 'console.log')})`
  if (end.kind === 'timeout') {
    log(`kprobecov: ${deadline.timeout(phase).message}${kept}`)
    return TIMEOUT_STATUS
  }
  const dmesg = existsSync(join(out, 'dmesg.log')) ? readFileSync(join(out, 'dmesg.log'), 'utf8') : undefined
  const statusFile = join(out, 'exit-status')
  if (end.qemuStatus !== 0 && !existsSync(statusFile)) {
    throw new KprobecovError('EKERNELREPORT', `QEMU failed (status ${end.qemuStatus}): ${end.stderr.trim().split('\n').at(-1) ?? ''}${kept}`)
  }
  const oom = dmesg === undefined ? undefined : oomKilled(dmesg)
  if (oom !== undefined) throw new KprobecovError('ENOMEM', `the guest ran out of memory (the kernel killed ${oom}): give it more with --mem (it had ${o.mem} MiB)${kept}`)
  if (dmesg !== undefined) {
    const report = firstReport(dmesg)
    if (report !== undefined) {
      log(report.text.map((l) => `  ${l}`).join('\n'))
      const status = existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : 'none'
      throw new KprobecovError('EKERNELREPORT', `the guest's kernel reported a bug (above; line ${report.line} of ${join(out, 'dmesg.log')}): the run fails (the command's exit status was ${status})`)
    }
  }
  if (existsSync(join(out, 'load-failed'))) throw new KprobecovError('EVMMODULE', `a module did not load in the guest (insmod's message is above)${kept}`)
  if (!existsSync(statusFile) || dmesg === undefined) throw new KprobecovError('EKERNELREPORT', `the guest crashed before the command ended (no exit status): see its console${kept}`)
  const status = Number.parseInt(readFileSync(statusFile, 'utf8'), 10)
  if (o.out === undefined) rmSync(out, { recursive: true, force: true })
  return Number.isNaN(status) ? 1 : status
}
