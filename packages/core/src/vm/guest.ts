/**
 * One QEMU guest: boots a kernel with the host's root shared read-only over
 * 9p, a few directories read-write at their own paths, runs cmd.sh (written
 * here) as root in a chroot of the host's root, streams the serial console
 * live, and tells what became of it.
 *
 * QEMU rules the project found in its own test harness:
 * - TCG runs the vCPUs in one thread (thread=single): with a thread per vCPU,
 *   QEMU 7.2 can keep executing the int3 of a site the kernel has just patched
 *   back while the other vCPU runs it, and both vCPUs soft-lock (1 run in 6 to
 *   10 of the kprobes stress test; none in 35 with one thread).
 * - no5lvl on the kernel command line: 4-level paging, as nearly every machine
 *   runs (-cpu max offers LA57; KASAN once reported a wild access at a
 *   5-level direct-map address at boot).
 * - qboot instead of SeaBIOS where QEMU ships it (-3 s); an ELF vmlinux boots
 *   through its PVH entry (no decompression under TCG, -2.5 s).
 * - reboot -f plus -no-reboot ends QEMU; the exit status comes back in a file.
 * - KVM where /dev/kvm opens read-write; KPROBECOV_QEMU_ACCEL=kvm|tcg|tcg-single
 *   chooses (under some nested KVMs the guest hangs: then tcg-single).
 *
 * The console carries phase marks (lines "kprobecov-vm:phase:NAME", written by
 * cmd.sh) that are not shown; everything else the guest prints is.
 */
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, closeSync, constants, existsSync, openSync, writeFileSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import type { Output } from '../reports/progress.ts'
import type { Phase } from './phases.ts'

export const PHASE_MARK = 'kprobecov-vm:phase:'
export type Accel = 'kvm' | 'tcg' | 'tcg-single'
const QEMU = 'qemu-system-x86_64'
const QBOOT = ['/usr/share/qemu/qboot.rom', '/usr/share/qemu-kvm/qboot.rom', '/usr/share/seabios/qboot.rom']

export interface GuestOptions {
  qemu: string
  kernel: string
  initrd: string
  /** The directory holding lib/modules/<release>, bind-mounted on /lib/modules. */
  modules: string | undefined
  /** The output directory (read-write, uncached): cmd.sh, exit-status, dmesg.log, console.log. */
  out: string
  rw: string[]
  keep: string[]
  mem: number
  cpus: number
  accel: Accel
  stdinTty: boolean
  /** Milliseconds until the deadline. */
  timeoutMs: number
  /** Where the console goes. */
  console: Output
  onPhase: (phase: Phase) => void
  /** Serializes guests of one machine: waits for it (flock) before QEMU starts. */
  lock: string | undefined
  onWait: () => void
}

export type GuestEnd = { kind: 'exited'; qemuStatus: number | null; stderr: string } | { kind: 'timeout' }

export function findQemu(env: Record<string, string | undefined>): string {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(':').filter((d) => d !== '')) {
    try {
      accessSync(join(dir, QEMU), constants.X_OK)
      return join(dir, QEMU)
    } catch {
      // not here
    }
  }
  throw new KprobecovError('ENOPROGRAM', `${QEMU} is not installed: install QEMU (Debian/Ubuntu: sudo apt-get install qemu-system-x86; Fedora: sudo dnf install qemu-system-x86-core)`)
}

/** KPROBECOV_QEMU_ACCEL if set, else kvm where /dev/kvm opens read-write, else tcg-single. */
export function chooseAccel(env: Record<string, string | undefined>, kvmDevice = '/dev/kvm'): Accel {
  const given = env.KPROBECOV_QEMU_ACCEL
  if (given !== undefined && given !== '') {
    if (given === 'kvm' || given === 'tcg' || given === 'tcg-single') return given
    throw new KprobecovError('EINVAL', `KPROBECOV_QEMU_ACCEL must be kvm, tcg or tcg-single, not '${given}': unset it`)
  }
  try {
    closeSync(openSync(kvmDevice, 'r+'))
    return 'kvm'
  } catch {
    return 'tcg-single'
  }
}

function accelArgs(a: Accel): string[] {
  if (a === 'kvm') return ['-accel', 'kvm', '-cpu', 'host']
  return ['-accel', `tcg,thread=${a === 'tcg' ? 'multi' : 'single'}`, '-cpu', 'max']
}

/** Word `s` quoted for sh. */
export const sq = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`

export function qemuArgs(o: GuestOptions): string[] {
  const append = ['console=ttyS0', 'quiet', 'panic=-1', 'log_buf_len=16M', 'no5lvl', `kpc.out=${o.out}`, `kpc.stdin=${o.stdinTty ? 'tty' : 'null'}`]
  if (o.rw.length > 0) append.push(`kpc.rw=${o.rw.join(':')}`)
  if (o.keep.length > 0) append.push(`kpc.keep=${o.keep.join(':')}`)
  if (o.modules !== undefined) append.push(`kpc.modules=${o.modules}`)
  const share = (tag: string, dir: string, ro: boolean) => [
    '-fsdev', `local,id=${tag},path=${dir},security_model=none,multidevs=remap${ro ? ',readonly=on' : ''}`,
    '-device', `virtio-9p-pci,fsdev=${tag},mount_tag=${tag}`,
  ]
  const bios = QBOOT.find((f) => existsSync(f))
  return [
    ...accelArgs(o.accel), '-smp', String(o.cpus), '-m', String(o.mem),
    '-nodefaults', '-nographic', '-no-reboot', '-monitor', 'none', ...(bios ? ['-bios', bios] : []),
    '-chardev', `stdio,id=console,logfile=${join(o.out, 'console.log')}`, '-serial', 'chardev:console',
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', append.join(' '),
    ...share('hostroot', '/', true), ...o.rw.flatMap((d, i) => share(`rw${i}`, d, false)), ...share('out', o.out, false),
  ]
}

/** Writes OUT/cmd.sh: the phase marks, the module loads, the environment, cd, exec. */
export function writeCommandScript(out: string, o: {
  loads: { ko: string; params: string[] }[]
  env: Record<string, string>
  cwd: string
  argv: string[]
}): void {
  const lines = [
    '# Written by kprobecov vm; run by the guest in its chroot of the host root, as root.',
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `echo ${PHASE_MARK}load`,
    // A module's dependencies among the kernel's own modules come first (modprobe).
    `load() { f=$1; shift; deps=$(modinfo -F depends "$f" 2>/dev/null | tr , ' '); [ -z "$deps" ] || modprobe -a $deps; insmod "$f" "$@" || { : >${sq(join(out, 'load-failed'))}; echo "kprobecov vm: insmod $f failed (above)"; exit 1; }; }`,
    ...o.loads.map((l) => `load ${[l.ko, ...l.params].map(sq).join(' ')}`),
    ...Object.entries(o.env).map(([k, v]) => `export ${k}=${sq(v)}`),
    'mkdir -p "$HOME" 2>/dev/null',
    `cd ${sq(o.cwd)} || { echo 'kprobecov vm: the working directory is missing in the guest'; exit 125; }`,
    `echo ${PHASE_MARK}command`,
    `exec ${o.argv.map(sq).join(' ')}`,
  ]
  writeFileSync(join(out, 'cmd.sh'), `${lines.join('\n')}\n`)
}

/**
 * Copies console output to `out` without the phase marks: whole lines are
 * checked; a partial line is held only while it could still become a mark.
 */
export class ConsoleFilter {
  private pending = ''
  /** After the mark "end" (the command has ended), nothing more is shown. */
  private ended = false
  private readonly out: Output
  private readonly onPhase: (p: Phase) => void
  constructor(out: Output, onPhase: (p: Phase) => void) {
    this.out = out
    this.onPhase = onPhase
  }

  write(chunk: string): void {
    let text = this.pending + chunk
    this.pending = ''
    let shown = ''
    for (;;) {
      const nl = text.indexOf('\n')
      if (nl < 0) break
      const line = text.slice(0, nl)
      text = text.slice(nl + 1)
      const mark = line.replace(/\r$/, '')
      if (mark === `${PHASE_MARK}end`) this.ended = true
      else if (mark.startsWith(PHASE_MARK)) this.onPhase(mark.slice(PHASE_MARK.length) as Phase)
      else if (!this.ended) shown += `${line}\n`
    }
    if (text !== '' && (PHASE_MARK.startsWith(text) || text.startsWith(PHASE_MARK))) this.pending = text
    else if (!this.ended) shown += text
    if (shown !== '') this.out.write(shown)
  }

  end(): void {
    if (this.pending !== '' && !this.ended) this.out.write(this.pending)
    this.pending = ''
  }
}

/** Runs the guest to its end or the deadline (then QEMU is killed). */
export function runGuest(o: GuestOptions): Promise<GuestEnd> {
  const args = qemuArgs(o)
  let argv = [o.qemu, ...args]
  if (o.lock !== undefined) {
    // flock(1) holds the lock while QEMU runs; fd 3 tells when it was taken, and QEMU's
    // pid (the shell's, which execs it). Not detached: QEMU reads a terminal as stdin.
    if (spawnSync('flock', ['-n', o.lock, 'true']).status === 1) o.onWait()
    argv = ['flock', o.lock, 'sh', '-c', 'echo $$ >&3; exec 3>&-; exec "$@"', 'sh', ...argv]
  }
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [o.stdinTty ? 'inherit' : 'ignore', 'pipe', 'pipe', 'pipe'] })
    let qemuPid = o.lock === undefined ? child.pid : undefined
    const filter = new ConsoleFilter(o.console, o.onPhase)
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    const start = () => {
      if (timer === undefined) {
        timer = setTimeout(() => {
          timedOut = true
          try {
            if (qemuPid !== undefined) process.kill(qemuPid, 'SIGKILL')
          } catch {
            // gone already
          }
        }, o.timeoutMs)
      }
    }
    if (o.lock === undefined) start()
    child.stdio[3]?.on('data', (b: Buffer) => {
      qemuPid = Number.parseInt(b.toString(), 10) || undefined
      start()
    })
    child.stdout!.setEncoding('utf8').on('data', (s: string) => filter.write(s))
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    // Ended by a signal (Ctrl-C, a CI job's timeout): QEMU goes too, not left holding the lock.
    const onSignal = (sig: NodeJS.Signals) => {
      for (const pid of [qemuPid, child.pid]) {
        try {
          if (pid !== undefined) process.kill(pid, 'SIGKILL')
        } catch {
          // gone already
        }
      }
      process.exit(128 + (osConstants.signals[sig] ?? 0))
    }
    const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
    for (const sig of SIGNALS) process.once(sig, onSignal)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const sig of SIGNALS) process.off(sig, onSignal)
      if (timer) clearTimeout(timer)
      filter.end()
      if (timedOut) resolve({ kind: 'timeout' })
      else resolve({ kind: 'exited', qemuStatus: code ?? (signal ? 128 : null), stderr })
    })
  })
}
