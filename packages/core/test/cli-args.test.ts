// The kprobecov command line: help, and every usage error with its exact one-line
// message and exit status 2 (main() in this process); the real bin once, as a child.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { COMMANDS, doctorOptions, parseCommandLine, runOptions, statusOptions } from '../src/cli/args.ts'
import { errorLine } from '../src/cli/main.ts'
import { KprobecovError } from '../src/errors.ts'
import { cli } from './cli-helpers.ts'

const bin = resolve(import.meta.dirname, '../bin/kprobecov.ts')
const see = (c?: string) => (c ? ` (see kprobecov ${c} --help)` : ' (see kprobecov --help)')

const USAGE: Array<[argv: string[], message: string]> = [
  [[], `kprobecov: no command given${see()}`],
  [['frobnicate'], `kprobecov: unknown command 'frobnicate'${see()}`],
  [['--out', 'x'], `kprobecov: the command comes first, before --out${see()}`],
  [['run', '--module', 'mydrv'], `kprobecov run: the command to measure goes after --, e.g. kprobecov run --module mydrv -- ./test.sh${see('run')}`],
  [['run', '--', 'true'], `kprobecov run: --module is required, e.g. --module mydrv=path/to/mydrv.ko${see('run')}`],
  [['run', '-m', 'mydrv', '--frobnicate', '--', 'true'], `kprobecov run: unknown option '--frobnicate'${see('run')}`],
  [['run', '-m', 'mydrv', '--out'], `kprobecov run: --out needs a value${see('run')}`],
  [['run', '-m', 'mydrv', '-o'], `kprobecov run: --out needs a value${see('run')}`],
  [['run', '-m', 'mydrv', '-g', 'block', '--', 'true'], `kprobecov run: --granularity must be function, line or branch, not 'block'${see('run')}`],
  [['run', '-m', 'my drv', '--', 'true'], `kprobecov run: --module wants NAME or NAME=PATH.ko, not 'my drv'${see('run')}`],
  [['run', '-m', 'mydrv=', '--', 'true'], `kprobecov run: --module wants NAME or NAME=PATH.ko, not 'mydrv='${see('run')}`],
  [['run', '-m', 'my-drv', '-m', 'my_drv=x.ko', '--', 'true'], `kprobecov run: --module my_drv is given twice${see('run')}`],
  ...(['run', 'status', 'unhit', 'callers', 'paths', 'trace', 'watch', 'doctor'] as const).flatMap((c): Array<[string[], string]> => {
    const after = c === 'run' || c === 'trace' ? ['--', 'true'] : []
    const func = c === 'callers' ? ['f'] : []
    return [
      [[c, ...func, '-m', 'vmlinux', ...after], `kprobecov ${c}: --module vmlinux needs --sources GLOB or --functions GLOB, e.g. --sources 'fs/ext4/**': all of the kernel is too many probes${see(c)}`],
      [[c, ...func, '-m', 'mydrv', '--sources', 'fs/ext4/**', ...after], `kprobecov ${c}: --sources chooses built-in code: it goes with --module vmlinux (a module is measured whole)${see(c)}`],
      [[c, ...func, '-m', 'vmlinux=/boot/vmlinux', '--functions', '', ...after], `kprobecov ${c}: --functions needs a glob, e.g. --sources 'fs/ext4/**' or --functions '__x64_sys_*'${see(c)}`],
    ]
  }),
  [['status', '--functions', 'ext4_*'], `kprobecov status: --functions chooses built-in code: it goes with --module vmlinux (a module is measured whole)${see('status')}`],
  [['doctor', '--sources', 'kernel/sys.c'], `kprobecov doctor: --sources chooses built-in code: it goes with --module vmlinux (a module is measured whole)${see('doctor')}`],
  [['run', '-m', 'vmlinux', '--sources', 'kernel/**', '-b', 'kcov', '--', 'true'], `kprobecov run: --module vmlinux is measured with kprobes: use --backend kprobe (KCOV maps loadable modules only)${see('run')}`],
  [['cmp', '-m', 'vmlinux', '--', 'true'], `kprobecov cmp: KCOV comparisons are shown for loadable modules, not vmlinux: give a module built with KCOV instrumentation${see('cmp')}`],
  [['cmp', '-m', 'vmlinux', '--sources', 'kernel/**', '--', 'true'], `kprobecov cmp: unknown option '--sources'${see('cmp')}`],
  [['run', '-m', 'mydrv', '-r', 'lcov,pdf', '--', 'true'],
    `kprobecov run: unknown reporter 'pdf': use one of clover, cobertura, html, html-spa, json, json-summary, lcov, lcovonly, none, teamcity, text, text-lcov, text-summary${see('run')}`],
  [['run', '-m', 'mydrv', '--edge-bits', '25', '--', 'true'], `kprobecov run: --edge-bits must be a whole number from 0 to 24, not '25'${see('run')}`],
  [['run', '-m', 'mydrv', '--'], `kprobecov run: the command after -- is empty${see('run')}`],
  [['run', '-m', 'mydrv', 'true'], `kprobecov run: unexpected argument 'true': a command to run goes after --${see('run')}`],
  [['report', 'x'], `kprobecov report: unexpected argument 'x'${see('report')}`],
  [['report', '--', 'x'], `kprobecov report: takes no command to run after --${see('report')}`],
  [['merge', '--out', 'o'], `kprobecov merge: no files to merge: kprobecov merge FILE... --out DIR${see('merge')}`],
  [['merge', 'a.info'], `kprobecov merge: --out is required: the directory the merged reports go to${see('merge')}`],
  [['status', '--probes=yes'], `kprobecov status: --probes takes no value${see('status')}`],
  [['status', '--', 'true'], `kprobecov status: a command to run needs --module: the module to measure${see('status')}`],
  [['status', '-m', 'mydrv', '-o', 'dir'], `kprobecov status: give --module (measure now) or --out (a saved run), not both${see('status')}`],
  [['unhit', '--granularity', 'line'], `kprobecov unhit: --granularity needs --module: it is for measuring now, not for a saved run${see('unhit')}`],
  [['unhit', '--kind', 'block'], `kprobecov unhit: --kind must be function, line or branch, not 'block'${see('unhit')}`],
  [['unhit', '--skip', 'x'], `kprobecov unhit: --skip must be a whole number 0 or more, not 'x'${see('unhit')}`],
  [['unhit', '--skip', '-1'], `kprobecov unhit: --skip needs a value (one that starts with '-' goes as --skip=VALUE)${see('unhit')}`],
  [['unhit', '--skip=-1'], `kprobecov unhit: --skip must be a whole number 0 or more, not '-1'${see('unhit')}`],
  [['unhit', '--all', '--skip', '1'], `kprobecov unhit: --all lists every never-hit probe: --skip goes with one${see('unhit')}`],
  [['callers'], `kprobecov callers: which function? kprobecov callers FUNC${see('callers')}`],
  [['callers', 'a', 'b'], `kprobecov callers: unexpected argument 'b': a command to run goes after --${see('callers')}`],
  [['paths', '--edge-bits', '8'], `kprobecov paths: --edge-bits needs --module: it is for measuring now, not for a saved run${see('paths')}`],
  [['paths', '-m', 'mydrv', '--edge-bits', '0'], `kprobecov paths: --edge-bits must be a whole number from 1 to 24, not '0'${see('paths')}`],
  [['trace', '-m', 'mydrv'], `kprobecov trace: the command to measure goes after --, e.g. kprobecov trace --module mydrv -- ./test.sh${see('trace')}`],
  [['trace', '-m', 'mydrv', '--trace-entries', '0', '--', 'true'], `kprobecov trace: --trace-entries must be a whole number from 1 to 16777216, not '0'${see('trace')}`],
  [['watch', '-m', 'mydrv', '-d', 'soon'], `kprobecov watch: --duration must be a positive number of seconds, not 'soon'${see('watch')}`],
  [['watch', '-m', 'mydrv', '-d', '1', '--', 'true'], `kprobecov watch: give --duration or a command after --, not both: a command is watched until it ends${see('watch')}`],
  [['watch', '-m', 'mydrv', '-p', '1', '--', 'true'], `kprobecov watch: give --pid (a running process) or a command after --, not both${see('watch')}`],
  [['watch', '-p', '1'], `kprobecov watch: --module is required, e.g. --module mydrv=path/to/mydrv.ko${see('watch')}`],
  [['doctor', 'now'], `kprobecov doctor: unexpected argument 'now'${see('doctor')}`],
  [['run', '-m', 'mydrv', '--backend', 'ftrace', '--', 'true'], `kprobecov run: --backend must be kprobe, kcov or auto, not 'ftrace'${see('run')}`],
  [['run', '-m', 'mydrv', '-b', 'kcov', '--callers', '--', 'true'], `kprobecov run: --callers needs --backend kprobe: KCOV does not record callers${see('run')}`],
  [['run', '-m', 'mydrv', '-b', 'kcov', '--edge-bits', '8', '--', 'true'], `kprobecov run: --edge-bits needs --backend kprobe: KCOV does not count edges${see('run')}`],
  [['run', '-m', 'mydrv', '-b', 'kprobe', '--kcov-buffer', '4096', '--', 'true'], `kprobecov run: --kcov-buffer is for --backend kcov${see('run')}`],
  [['run', '-m', 'mydrv', '-b', 'kcov', '--kcov-buffer', '10', '--', 'true'], `kprobecov run: --kcov-buffer must be a whole number from 1024 to 268435456, not '10'${see('run')}`],
  [['cmp', '-m', 'mydrv'], `kprobecov cmp: the command to measure goes after --, e.g. kprobecov cmp --module mydrv -- ./test.sh${see('cmp')}`],
  [['cmp', '--', 'true'], `kprobecov cmp: --module is required, e.g. --module mydrv=path/to/mydrv.ko${see('cmp')}`],
  [['cmp', '-m', 'mydrv', '--granularity', 'line', '--', 'true'], `kprobecov cmp: unknown option '--granularity'${see('cmp')}`],
]

for (const [argv, message] of USAGE) {
  test(`usage error: kprobecov ${argv.join(' ')}`, async () => {
    const r = await cli(argv)
    assert.deepEqual(r, { status: 2, stdout: '', stderr: `${message}\n` })
  })
}

test('kprobecov --help lists every command; each command has its help, with --help and an example or options', async () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await cli(argv)
    assert.equal(r.status, 0)
    assert.equal(r.stderr, '')
    assert.match(r.stdout, /^Usage: kprobecov <command> \[options\]\n/)
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} +\\S`, 'm'), c)
  }
  for (const c of COMMANDS) {
    const r = await cli([c, '--help'])
    assert.equal(r.status, 0, c)
    assert.match(r.stdout, new RegExp(`^Usage: kprobecov ${c}\\b`), c)
    assert.match(r.stdout, /^ {2}-h, --help {19}this help$/m, c)
    for (const line of r.stdout.split('\n')) assert.ok(line.length <= 100, `${c}: ${line}`)
    const takesModule = c !== 'report' && c !== 'merge' && c !== 'cmp' && c !== 'module' && c !== 'vm'
    for (const option of ['--module vmlinux\\[=PATH\\]', '--sources GLOB', '--functions GLOB']) {
      assert.equal(new RegExp(`^ {2}(-m, | {4})${option} +\\S`, 'm').test(r.stdout), takesModule, `${c}: ${option}`)
    }
  }
  // Help wins over everything else on the line.
  assert.equal((await cli(['run', '-m', 'x', '--help'])).status, 0)
  assert.match((await cli(['--version'])).stdout, /^kprobecov \d+\.\d+\.\d+\n$/)
})

test('parsed options: modules, reporters, the command after --', () => {
  const r = parseCommandLine(['run', '-m', 'my-drv=build/my.ko', '-r', 'json,lcov', '-r', 'html', '--callers', '--', 'sh', '-c', 'x --y'])
  assert.equal(r.kind, 'command')
  if (r.kind !== 'command') return
  assert.deepEqual(r.parsed.argv, ['sh', '-c', 'x --y'])
  assert.deepEqual(r.parsed.values.module, ['my-drv=build/my.ko'])
  assert.deepEqual(r.parsed.values.reporter, ['json,lcov', 'html'])
  assert.equal(r.parsed.values.callers, true)
})

test('parsed options: --module vmlinux[=PATH] takes the --sources and --functions globs; a module none', () => {
  const parsed = (argv: string[]) => {
    const r = parseCommandLine(argv)
    assert.equal(r.kind, 'command')
    return (r as Extract<typeof r, { kind: 'command' }>).parsed
  }
  assert.deepEqual(runOptions(parsed(['run', '-m', 'vmlinux=build/vmlinux', '--sources', 'kernel/*.c', '--functions', 'a*', '--functions', 'b',
    '-m', 'mydrv', '--', 'true']), '/src').modules, [
    { name: 'vmlinux', object: '/src/build/vmlinux', sources: ['kernel/*.c'], functions: ['a*', 'b'] },
    { name: 'mydrv' },
  ])
  assert.deepEqual(doctorOptions(parsed(['doctor', '-m', 'vmlinux', '--functions', '__x64_sys_getpriority']), '/src').modules,
    [{ name: 'vmlinux', functions: ['__x64_sys_getpriority'] }])
  const live = statusOptions(parsed(['status', '-m', 'vmlinux', '--sources', 'fs/ext4/**']), '/src').target
  assert.deepEqual(live.kind === 'live' && live.live.modules, [{ name: 'vmlinux', sources: ['fs/ext4/**'] }])
})

test('errorLine: one line naming the fix; internal errors say they are bugs', () => {
  assert.equal(errorLine(new KprobecovError('ENODEV', '/dev/kprobecov is missing: load the module')), 'kprobecov: /dev/kprobecov is missing: load the module')
  assert.equal(errorLine(new Error('a.info: not lcov\nat line 3')), 'kprobecov: a.info: not lcov at line 3')
  const fsError = Object.assign(new Error("EACCES: permission denied, mkdir '/x/y'"), { code: 'EACCES', syscall: 'mkdir', path: '/x/y' })
  assert.equal(errorLine(fsError), 'kprobecov: /x/y: permission denied: check its permissions')
  assert.match(errorLine(new TypeError('x is undefined')), /^kprobecov: internal error: x is undefined \(a bug: please report it with the output of KPROBECOV_DEBUG=1\)$/)
})

test('the bin: exit status 2 or 1 with one line on stderr, no stack trace', () => {
  const usage = spawnSync(process.execPath, [bin, 'run', '-m', 'mydrv'], { encoding: 'utf8' })
  assert.equal(usage.status, 2)
  assert.equal(usage.stdout, '')
  assert.equal(usage.stderr, `kprobecov run: the command to measure goes after --, e.g. kprobecov run --module mydrv -- ./test.sh${see('run')}\n`)
  const failure = spawnSync(process.execPath, [bin, 'report', '--out', '/nonexistent/kernel'], { encoding: 'utf8' })
  assert.equal(failure.status, 1)
  assert.equal(failure.stderr,
    'kprobecov: no saved run in /nonexistent/kernel (kprobecov-run.json is missing): make one with kprobecov run --out /nonexistent/kernel --module NAME -- CMD\n')
  assert.match(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }), /^Usage: kprobecov/)
})
