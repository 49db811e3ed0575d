// The preload library's side in TypeScript, on the host (no KCOV here): the environment
// that traces a child, and the files it writes, read back (files written by this test in
// the layout native/preload/kcov_preload.c documents). That the library traces real
// processes is tested in the debug kernel's guest (test/kcov/).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { locatePreload, moduleArea, preloadEnv, readPreloadRecords, PRELOAD_NAME } from '../src/kcov/preload.ts'

const repo = path.resolve(import.meta.dirname, '../../..')
let tmp = ''
before(() => {
  execFileSync('make', ['-s', '-C', path.join(repo, 'native'), 'all'], { stdio: 'pipe' })
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kpc-kcov-preload-'))
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const MAGIC = 0x32564f434b43504bn

function dump(dir: string, name: string, mode: number, overflows: number, entries: bigint[][], text = ''): void {
  const words = [MAGIC, BigInt(mode), BigInt(entries.length), BigInt(overflows), BigInt(Buffer.byteLength(text)), ...entries.flat()]
  writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from(BigUint64Array.from(words).buffer), Buffer.from(text, 'latin1')]))
}

test('the environment: the library first in LD_PRELOAD, the output, mode, buffer, module area and KCOV file', () => {
  const lib = locatePreload()
  assert.equal(path.basename(lib), PRELOAD_NAME)
  assert.ok(existsSync(lib))
  const env = preloadEnv({ dir: '/out', mode: 'cmp', buffer: 4096, kaslr: 0n, path: '/k', modules: ['kvstore', 'other'] }, { PATH: '/bin', LD_PRELOAD: `/x.so:${lib}` })
  assert.equal(env.LD_PRELOAD, `${lib}:/x.so`)
  assert.equal(env.PATH, '/bin')
  assert.equal(env.KPROBECOV_KCOV_OUT, '/out')
  assert.equal(env.KPROBECOV_KCOV_MODE, 'cmp')
  assert.equal(env.KPROBECOV_KCOV_BUFFER, '4096')
  assert.equal(env.KPROBECOV_KCOV_PATH, '/k')
  assert.equal(env.KPROBECOV_KCOV_RANGES, 'ffffffffa0000000-ffffffffff000000')
  assert.equal(env.KPROBECOV_KCOV_MODULES, 'kvstore,other')
  assert.equal(moduleArea(0x200000n), 'ffffffff9fe00000-fffffffffee00000')
})

test('records: per process, PCs summed, comparisons as written, overflows counted, the sections it saw; files removed', () => {
  const dir = mkdtempSync(path.join(tmp, 'pc-'))
  dump(dir, 'kcov-100-0.bin', 0, 0, [[0xffffffffc0001005n, 3n], [0xffffffffc0001010n, 1n]],
    'kvstore .text 0xffffffffc0001000\n--\nkvstore .text 0xffffffffc0201000\nkvstore .init.text 0xffffffffc0300000\n')
  dump(dir, 'kcov-100-1.bin', 0, 1, [[0xffffffffc0001005n, 2n]])
  dump(dir, 'kcov-200-0.bin', 1, 0, [[5n, 1n, 2n, 0xffffffffc0002000n, 4n], [7n, 8n, 9n, 0xffffffffc0002010n, 1n]])
  writeFileSync(path.join(dir, 'kcov-300-0.bin'), 'not a record file, too short')
  writeFileSync(path.join(dir, 'other.txt'), 'ignored')
  const r = readPreloadRecords(dir, true)
  assert.equal(r.files.length, 3)
  assert.equal(r.overflows, 1)
  assert.equal(r.processes, 2)
  const [a, b, c] = r.files
  assert.deepEqual([...a!.pcs], [[0xffffffffc0001005n, 3n], [0xffffffffc0001010n, 1n]])
  // When it wrote first, then when it started.
  assert.deepEqual(a!.bases, [
    new Map([['kvstore', new Map([['.text', 0xffffffffc0201000n], ['.init.text', 0xffffffffc0300000n]])]]),
    new Map([['kvstore', new Map([['.text', 0xffffffffc0001000n]])]]),
  ])
  assert.deepEqual([...b!.pcs], [[0xffffffffc0001005n, 2n]])
  assert.deepEqual(b!.bases, [])
  assert.deepEqual(c!.comparisons, [
    { size: 4, constant: true, arg1: 1n, arg2: 2n, pc: 0xffffffffc0002000n, count: 4n },
    { size: 8, constant: true, arg1: 8n, arg2: 9n, pc: 0xffffffffc0002010n, count: 1n },
  ])
  assert.deepEqual(readdirSync(dir).sort(), ['other.txt'])
  assert.equal(readPreloadRecords(path.join(tmp, 'missing'), true).files.length, 0)
})

test('without KCOV the library changes nothing: a shell, its exec and its children run as before', () => {
  const lib = locatePreload()
  const out = mkdtempSync(path.join(tmp, 'none-'))
  const stdout = execFileSync('/bin/sh', ['-c', 'echo one; (echo two); exec echo three'], {
    env: { ...process.env, LD_PRELOAD: lib, KPROBECOV_KCOV_OUT: out, KPROBECOV_KCOV_PATH: path.join(tmp, 'no-kcov') },
    encoding: 'utf8',
  })
  assert.equal(stdout, 'one\ntwo\nthree\n')
  assert.deepEqual(readdirSync(out), [])
})
