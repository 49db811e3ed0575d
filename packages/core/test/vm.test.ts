// kprobecov vm in real QEMU guests of the stock Debian kernel (6.1): a --build module is
// loaded (and kprobecov.ko before it), a --load module gets its parameters, the command's
// exit status, output, environment and working directory pass through, a kernel warning
// fails the run with its report, --no-kprobecov loads none and --out keeps the logs, and
// a timeout names its phase. One boot each (≈ 5–10 s under TCG).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { cacheDir } from '../src/module/build.ts'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const bin = resolve(import.meta.dirname, '../bin/kprobecov.ts')
const fixtures = resolve(import.meta.dirname, 'fixtures/vm')
const work = mkdtempSync(join(tmpdir(), 'kpc-vm-test.'))
for (const m of ['hello', 'warn', 'broken']) cpSync(join(fixtures, m), join(work, m), { recursive: true })
test.after(() => rmSync(work, { recursive: true, force: true }))

function vm(args: string[], env: Record<string, string> = {}, series = true) {
  const r = spawnSync(process.execPath, [bin, 'vm', ...(series ? ['--kernel', '6.1'] : []), ...args], {
    cwd: work, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    // Generous: the wait for another guest of the machine (the guest lock) counts here, not in --timeout.
    timeout: 3_600_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('a --build directory that does not compile: the compiler\'s output, then one line; no guest', () => {
  const r = vm(['--build', 'broken', '--', 'true'])
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stderr, /kpc_vmbroken\.c:7:\d+: error: implicit declaration of function [‘']kpc_no_such_function[’']/)
  const last = r.stderr.trimEnd().split('\n').at(-1)
  assert.match(last!, new RegExp(`^kprobecov: --build ${join(work, 'broken')} did not build against the headers of 6\\.1\\.\\S+ \\(make exited with 2; the compiler's output is above\\): fix the error, or check that the module supports this kernel$`))
  assert.doesNotMatch(r.stderr, /booting/)
})

test('a --build module is built for the guest kernel and loaded, after kprobecov.ko', () => {
  const r = vm(['--build', 'hello', '--', 'sh', '-c', 'cat /sys/module/kpc_vmhello/initstate /sys/module/kpc_vmhello/parameters/greeting; cut -d" " -f1 /proc/modules | grep -E "^(kprobecov|kpc_vmhello)$"'])
  assert.equal(r.status, 0, r.stderr)
  // /proc/modules lists the newest first.
  assert.equal(r.stdout, 'live\nhello\nkpc_vmhello\nkprobecov\n', r.stderr)
})

test('the exit status, the output, the environment and the working directory pass through; --load passes parameters', () => {
  const r = vm(['--load', `${join(work, 'hello/kpc_vmhello.ko')} greeting=bonjour`, '--', 'sh', '-c', 'echo "$KPC_VM_TEST in $PWD as $(id -u)"; cat /sys/module/kpc_vmhello/parameters/greeting; exit 7'], { KPC_VM_TEST: 'it is me' })
  assert.equal(r.status, 7, r.stderr)
  assert.equal(r.stdout, `it is me in ${work} as 0\nbonjour\n`)
})

test('a kernel warning fails the run, with the report printed', () => {
  const r = vm(['--build', 'warn', '--', 'true'])
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stderr, /^ {2}.*WARNING: CPU: \d+ PID: \d+ at .*kpc_vmwarn\.c:\d+ kpc_vmwarn_init/m)
  assert.match(r.stderr, /^kprobecov: the guest's kernel reported a bug \(above; line \d+ of \S+\/dmesg\.log\): the run fails \(the command's exit status was 0\)$/m)
})

test('--kernel PATH boots that image, with the modules and headers of the package unpacked beside it', () => {
  // The entry --kernel 6.1 fetched above: boot/vmlinux-R beside lib/modules/R.
  const env = readFileSync(join(cacheDir(), 'debian-kernel', readdirSync(join(cacheDir(), 'debian-kernel')).find((d) => d.startsWith('6.1.'))!, 'kernel.env'), 'utf8')
  const image = /^KERNEL_IMAGE=(.*)$/m.exec(env)![1]!
  const release = /^KVER=(.*)$/m.exec(env)![1]!
  const r = vm(['--kernel', image, '--', 'sh', '-c', 'uname -r; cat /sys/module/kprobecov/initstate'], {}, false)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, `${release}\nlive\n`)
})

test('--no-kprobecov loads no kprobecov.ko; --out keeps the console, the kernel log and the exit status', () => {
  const out = join(work, 'logs')
  const r = vm(['--no-kprobecov', '--out', out, '--', 'sh', '-c', 'echo "kprobecov loaded: $(grep -c "^kprobecov " /proc/modules)"; exit 5'])
  assert.equal(r.status, 5, r.stderr)
  assert.equal(r.stdout, 'kprobecov loaded: 0\n')
  assert.deepEqual(readdirSync(out).sort(), ['console.log', 'dmesg.log', 'exit-status'])
  assert.equal(readFileSync(join(out, 'exit-status'), 'utf8'), '5\n')
  assert.match(readFileSync(join(out, 'console.log'), 'utf8'), /^kprobecov loaded: 0\r?$/m)
  assert.match(readFileSync(join(out, 'dmesg.log'), 'utf8'), /Linux version 6\.1\./)
})

test('a timeout names the phase it ran out in', () => {
  const r = vm(['--timeout', '30', '--', 'sleep', '600'])
  assert.equal(r.status, 124, r.stderr)
  assert.match(r.stderr, /^kprobecov: timed out after 30 s in phase command: give a longer --timeout \(console: \S+\/console\.log\)$/m)
})
