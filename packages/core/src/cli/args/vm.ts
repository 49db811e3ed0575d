/** kprobecov vm: its options, help and builder. */
import { flag, int, list, resolveIn, str, usage, type CommandSpec, type Parsed } from './base.ts'
import type { VmOptions } from '../../vm/run.ts'

export const DEFAULT_VM_MEM = 2048
export const MIN_VM_MEM = 256
export const DEFAULT_VM_CPUS = 2
export const DEFAULT_VM_TIMEOUT = 3600

export const VM_SPEC: CommandSpec = {
  summary: 'run a command in a throwaway QEMU guest of a Debian kernel, kprobecov.ko and your modules loaded',
  usage: `kprobecov vm [--kernel 6.1|6.12|RELEASE|IMAGE [--modules DIR]] [--build DIR]...
    [--load 'FILE.ko [P=V...]']... [--no-kprobecov] [--rw DIR]... [--out DIR]
    [--mem MB] [--cpus N] [--timeout S] [-- COMMAND...]`,
  options: {
    kernel: { type: 'string', short: 'k' },
    modules: { type: 'string' },
    'no-kprobecov': { type: 'boolean' },
    out: { type: 'string' },
    build: { type: 'string', multiple: true },
    load: { type: 'string', multiple: true },
    rw: { type: 'string', multiple: true },
    mem: { type: 'string' },
    cpus: { type: 'string' },
    timeout: { type: 'string' },
  },
  help: `
  -k, --kernel SPEC            the kernel: a Debian series (6.1, 6.12: its newest release in
                               apt's lists), a Debian release (6.12.118+deb12-amd64), or the
                               path of a kernel image (a bzImage or vmlinux; its modules and
                               headers from /lib/modules/<release>, or the kernel tree it
                               was built in). Default: the running kernel's release if Debian
                               has it, else Debian's default kernel (linux-image-amd64)
      --modules DIR            with --kernel IMAGE: the guest's modules are DIR/lib/modules/
                               <release> (where make modules_install INSTALL_MOD_PATH=DIR
                               put them)
      --build DIR              a directory with a Kbuild module: built against the kernel's
                               headers (make -C KDIR M=DIR modules) and loaded (repeatable)
      --load 'FILE.ko [P=V...]'  a built module to load, with its parameters (repeatable)
      --no-kprobecov           neither build nor load kprobecov.ko (load your own build of it
                               with --load, or none)
      --rw DIR                 a directory the guest may write (besides the working
                               directory; the rest of the host is read-only) (repeatable)
      --out DIR                keep the guest's console.log, dmesg.log (its kernel log) and
                               exit-status in DIR (default: a temporary directory, removed
                               after a run that passed)
      --mem MB                 guest memory in MiB (default ${DEFAULT_VM_MEM}, at least ${MIN_VM_MEM})
      --cpus N                 virtual CPUs (default ${DEFAULT_VM_CPUS})
      --timeout S              seconds for the whole run (default ${DEFAULT_VM_TIMEOUT}); the message names
                               the phase it ran out in: fetch, build, boot, load or command`,
  notes: `The kernel is fetched once into the cache ($KPROBECOV_CACHE, else ~/.cache/kprobecov). The
guest sees the host's files read-only and the working directory (and each --rw) read-write,
loads kprobecov.ko (unless --no-kprobecov), then the --build modules, then the --load ones,
and runs COMMAND as root in the working directory with your environment (HOME: /tmp/home
unless it is writable there). Without COMMAND, a shell when stdin is a terminal. Exit
status: COMMAND's; 1 when the guest's kernel logs a warning, BUG, oops, KASAN or lockdep
report (printed), a module fails to build or load, or the guest runs out of memory; 124 on
timeout. KVM where /dev/kvm works, else TCG.
Example:
  kprobecov vm --kernel 6.12 -- npx vitest run --coverage.provider=kprobe`,
  positionals: [0, 0],
  after: 'optional',
}

export function vmOptions(p: Parsed, cwd: string): VmOptions {
  const kernel = str(p, 'kernel')
  if (kernel === '') throw usage(p, '--kernel needs a series (6.12), a Debian release or the path of a kernel image')
  const loads = list(p, 'load').map((l) => {
    const [file, ...params] = l.trim().split(/\s+/)
    if (file === undefined || file === '' || !/\.ko$/.test(file)) throw usage(p, `--load wants 'FILE.ko [PARAM=VALUE...]', not '${l}'`)
    for (const param of params) {
      if (!/^[A-Za-z_][A-Za-z0-9_.]*=\S*$/.test(param)) throw usage(p, `--load ${file}: a parameter is NAME=VALUE, not '${param}'`)
    }
    return { ko: resolveIn(cwd, file), params }
  })
  for (const o of ['build', 'rw', 'out', 'modules'] as const) {
    if (list(p, o).includes('') || str(p, o) === '') throw usage(p, `--${o} needs a directory`)
  }
  const mods = str(p, 'modules')
  if (mods !== undefined && kernel === undefined) throw usage(p, '--modules goes with --kernel IMAGE (the path of a kernel image): a Debian kernel brings its own modules')
  const out = str(p, 'out')
  const mem = str(p, 'mem')
  if (mem !== undefined && /^\d+$/.test(mem) && Number(mem) < MIN_VM_MEM) {
    throw usage(p, `--mem ${mem} is too little memory for the guest: give at least ${MIN_VM_MEM} (MiB; default ${DEFAULT_VM_MEM})`)
  }
  return {
    kernel,
    modules: mods === undefined ? undefined : resolveIn(cwd, mods),
    kprobecov: !flag(p, 'no-kprobecov'),
    builds: list(p, 'build').map((d) => resolveIn(cwd, d)),
    loads,
    rw: list(p, 'rw').map((d) => resolveIn(cwd, d)),
    out: out === undefined ? undefined : resolveIn(cwd, out),
    mem: int(p, 'mem', MIN_VM_MEM, 1 << 20, DEFAULT_VM_MEM),
    cpus: int(p, 'cpus', 1, 64, DEFAULT_VM_CPUS),
    timeout: int(p, 'timeout', 1, Number.MAX_SAFE_INTEGER, DEFAULT_VM_TIMEOUT),
    argv: p.argv,
  }
}
