// loadDebugInfo() on the fixture module native/ builds with kbuild and -g
// (native/tests/fixture/kpc_fixture.c). Expected source lines come from the
// fixture's "KPC:<name>" markers, as in native's C tests, so they are exact
// without being copied here.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { DebugFunction, DebugInfo } from '../src/debuginfo/types.ts'
import { KprobecovError } from '../src/errors.ts'
import { loadDebugInfo, parseDebugInfo } from '../src/native/debuginfo.ts'
import { parseBuildIdNote } from '../src/device/system.ts'
import { makeNativeFixtures, markerLine } from './native-fixtures.ts'

const root = resolve(import.meta.dirname, '../../..')
const fixtureDir = join(root, 'build/native/fixture')
const ko = join(fixtureDir, 'kpc_fixture.ko')
const nodebug = join(fixtureDir, 'kpc_fixture.nodebug.ko')
const debugFile = join(fixtureDir, 'kpc_fixture.debug')
const source = join(fixtureDir, 'kpc_fixture.c')
let tmp = ''
let di: DebugInfo

before(() => {
  // The library and the fixture (kbuild; KDIR from build/setup.env): a no-op when built.
  makeNativeFixtures()
  tmp = mkdtempSync(join(tmpdir(), 'kpc-di-test-'))
  di = loadDebugInfo(ko)
})
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const marker = (name: string): number => markerLine(source, name)

function fnBySymbol(info: DebugInfo, symbol: string): number {
  const i = info.functions.findIndex((f) => f.symbol === symbol)
  assert.ok(i >= 0, `no function ${symbol}`)
  return i
}

/** The primary, non-cold function compiled from source function `name`. */
function fnBySource(info: DebugInfo, name: string): number {
  return info.functions.findIndex((f) => f.name === name && f.aliasOf === undefined && f.parent === undefined)
}

/** SHT_NOTE sections of an ELF64 little-endian file: [file offset, size]. */
function noteSections(file: Uint8Array): Array<[number, number]> {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const shoff = Number(dv.getBigUint64(0x28, true))
  const shentsize = dv.getUint16(0x3a, true)
  const shnum = dv.getUint16(0x3c, true)
  const notes: Array<[number, number]> = []
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize
    if (dv.getUint32(at + 4, true) === 7 /* SHT_NOTE */) {
      notes.push([Number(dv.getBigUint64(at + 0x18, true)), Number(dv.getBigUint64(at + 0x20, true))])
    }
  }
  return notes
}

function elfBuildId(path: string): string | undefined {
  const file = readFileSync(path)
  for (const [off, size] of noteSections(file)) {
    const id = parseBuildIdNote(file.subarray(off, off + size))
    if (id !== undefined) return id
  }
  return undefined
}

const errorWith = (code: string, text?: string) => (e: unknown) => {
  assert.ok(e instanceof KprobecovError, `not a KprobecovError: ${String(e)}`)
  assert.equal(e.code, code, e.message)
  assert.ok(!e.message.includes('\n'), `message is one line: ${e.message}`)
  if (text !== undefined) assert.ok(e.message.includes(text), `"${e.message}" should include "${text}"`)
  return true
}

test('identity of the module: name, build-id from its ELF note, srcversion, vermagic', () => {
  assert.equal(di.path, ko)
  assert.equal(di.moduleName, 'kpc_fixture')
  assert.match(di.buildId, /^[0-9a-f]{40}$/)
  assert.equal(di.buildId, elfBuildId(ko))
  assert.match(di.srcversion, /^[0-9A-F]{23}$/)
  assert.match(di.vermagic, / mod_unload /)
  assert.equal(di.hasBranches, true)
  assert.equal(di.files[0], '')
})

test('functions: symbols, source names, exact declaration lines, sections', () => {
  const want: Array<[source: string, decl: string, section: string, global: boolean]> = [
    ['kpc_fx_even', 'even_decl', '.text', false],
    ['kpc_fx_odd', 'odd_decl', '.text', false],
    ['kpc_fx_ifelse', 'ifelse_decl', '.text', false],
    ['kpc_fx_switch', 'switch_decl', '.text', false],
    ['kpc_fx_loop', 'loop_decl', '.text', false],
    ['kpc_fx_check', 'check_decl', '.text', false],
    ['kpc_fx_scale', 'scale_decl', '.text', false],
    ['kpc_fx_global', 'global_decl', '.text', true],
    ['kpc_fx_complain', 'complain_decl', '.text.unlikely', false],
    ['kpc_fx_init', 'init_decl', '.init.text', false],
    ['kpc_fx_exit', 'exit_decl', '.exit.text', false],
  ]
  for (const [name, decl, section, global] of want) {
    const i = fnBySource(di, name)
    assert.ok(i >= 0, `no function for ${name}`)
    const f = di.functions[i] as DebugFunction
    // "foo", or a compiler clone such as "foo.constprop.0"
    assert.ok(f.symbol === name || f.symbol.startsWith(`${name}.`), f.symbol)
    assert.equal(f.declLine, marker(decl), name)
    assert.equal(statSync(di.files[f.declFile] as string).ino, statSync(source).ino, name)
    assert.equal(di.sections[f.section]?.name, section, name)
    assert.equal(f.global, global, name)
    assert.equal(f.noDwarf, false)
    assert.ok(f.size > 0 && f.sectionOffset + f.size <= (di.sections[f.section]?.size ?? 0))
    assert.ok(f.nrLines > 0, name)
  }
  // The constant argument made a clone; the always_inline helper has no symbol.
  assert.notEqual(di.functions[fnBySource(di, 'kpc_fx_scale')]?.symbol, 'kpc_fx_scale')
  assert.equal(fnBySource(di, 'kpc_fx_helper'), -1)
  assert.ok(di.sections.find((s) => s.name === '.init.text')?.init)
  assert.ok(di.sections.find((s) => s.name === '.exit.text')?.exit)
})

test('aliases (init_module, cleanup_module) and the cold part', () => {
  const init = fnBySymbol(di, 'kpc_fx_init')
  const initModule = di.functions[fnBySymbol(di, 'init_module')] as DebugFunction
  assert.equal(initModule.aliasOf, init)
  assert.equal(initModule.nrLines, 0)
  assert.equal(di.functions[fnBySymbol(di, 'cleanup_module')]?.aliasOf, fnBySymbol(di, 'kpc_fx_exit'))
  assert.equal(di.functions[init]?.aliasOf, undefined)
  const cold = di.functions[fnBySymbol(di, 'kpc_fx_check.cold')] as DebugFunction
  assert.equal(cold.parent, fnBySource(di, 'kpc_fx_check'))
  assert.equal(cold.name, 'kpc_fx_check')
  assert.equal(cold.declLine, marker('check_decl'))
  // The jump into the cold part lands on the line of the cold call.
  const check = di.functions[fnBySource(di, 'kpc_fx_check')] as DebugFunction
  const jumps = di.branches
    .slice(check.firstBranch, check.firstBranch + check.nrBranches)
    .filter((b) => b.taken.function === fnBySymbol(di, 'kpc_fx_check.cold'))
  assert.equal(jumps.length, 1)
  assert.equal(jumps[0]?.taken.offset, 0)
  assert.equal(jumps[0]?.taken.line, marker('check_cold'))
})

test('lines: each marked line is in its function, offsets are probe offsets', () => {
  const want: Array<[string, string]> = [
    ['ifelse_then', 'kpc_fx_ifelse'],
    ['ifelse_else', 'kpc_fx_ifelse'],
    ['ifelse_join', 'kpc_fx_ifelse'],
    ['helper_call', 'kpc_fx_global'],
    ['helper_body', 'kpc_fx_global'], // the inlined helper's line, inside its caller
    ['check_cold', 'kpc_fx_check.cold'],
    ['exit_body', 'kpc_fx_exit'],
  ]
  for (const [m, symbol] of want) {
    const fi = fnBySymbol(di, symbol)
    const f = di.functions[fi] as DebugFunction
    const row = di.lines.findIndex((l) => l.line === marker(m) && l.file === f.declFile)
    assert.ok(row >= 0, `no line row for ${m}`)
    const l = di.lines[row]
    assert.ok(l !== undefined)
    assert.equal(l.function, fi, m)
    assert.equal(l.section, f.section)
    assert.ok(l.offset < f.size)
    assert.equal(l.sectionOffset, f.sectionOffset + l.offset)
    assert.ok(row >= f.firstLine && row < f.firstLine + f.nrLines)
  }
  // Sorted by (section, sectionOffset); each function's rows are its own and start at 0.
  for (let i = 1; i < di.lines.length; i++) {
    const p = di.lines[i - 1]
    const l = di.lines[i]
    assert.ok(p && l && (p.section < l.section || (p.section === l.section && p.sectionOffset <= l.sectionOffset)))
  }
  di.functions.forEach((f, fi) => {
    const rows = di.lines.slice(f.firstLine, f.firstLine + f.nrLines)
    assert.ok(rows.every((l) => l.function === fi))
    if (rows.length > 0) assert.equal(rows[0]?.offset, 0)
  })
  assert.ok(di.lines.some((l) => l.isStmt) && di.lines.some((l) => !l.isStmt))
})

test('branches: the if/else jump and its two successor lines', () => {
  const fi = fnBySource(di, 'kpc_fx_ifelse')
  const f = di.functions[fi] as DebugFunction
  const then = marker('ifelse_then')
  const els = marker('ifelse_else')
  const found = di.branches.slice(f.firstBranch, f.firstBranch + f.nrBranches).filter((b) => {
    const lines = [b.taken.line, b.fallthrough.line].sort()
    return lines[0] === Math.min(then, els) && lines[1] === Math.max(then, els)
  })
  assert.equal(found.length, 1)
  const b = found[0]
  assert.ok(b)
  assert.equal(b.function, fi)
  assert.equal(b.line, marker('ifelse_cond'))
  assert.match(b.mnemonic, /^j/)
  assert.equal(b.taken.function, fi)
  assert.equal(b.fallthrough.function, fi)
  assert.ok(b.fallthrough.offset > b.offset && b.taken.offset < f.size)
  // Every branch lies in its function's range of the table.
  di.branches.forEach((br, i) => {
    const owner = di.functions[br.function] as DebugFunction
    assert.ok(i >= owner.firstBranch && i < owner.firstBranch + owner.nrBranches)
  })
})

test('branches: false skips branch discovery, nothing else', () => {
  const lean = loadDebugInfo(ko, { branches: false })
  assert.equal(lean.hasBranches, false)
  assert.equal(lean.branches.length, 0)
  assert.deepEqual(lean.lines, di.lines)
  assert.deepEqual(
    lean.functions.map((f) => [f.symbol, f.firstLine, f.nrLines]),
    di.functions.map((f) => [f.symbol, f.firstLine, f.nrLines]),
  )
})

test('a stripped module with a separate debug file reads like the full one', () => {
  const split = loadDebugInfo(nodebug, { debugFile })
  assert.equal(split.path, nodebug)
  assert.equal(split.buildId, di.buildId)
  assert.deepEqual(split.functions, di.functions)
  assert.deepEqual(split.lines, di.lines)
  assert.equal(split.branches.length, di.branches.length)
})

test('compressed modules (.ko.gz, .ko.xz, .ko.zst) are read like the .ko', () => {
  const gz = join(tmp, 'kpc_fixture.ko.gz')
  writeFileSync(gz, gzipSync(readFileSync(ko)))
  const xz = join(tmp, 'kpc_fixture.ko.xz')
  writeFileSync(xz, execFileSync('xz', ['-c', ko], { maxBuffer: 1 << 28 }))
  const zst = join(tmp, 'kpc_fixture.ko.zst')
  writeFileSync(zst, execFileSync('zstd', ['-q', '-c', ko], { maxBuffer: 1 << 28 }))
  for (const path of [gz, xz, zst]) {
    const c = loadDebugInfo(path)
    assert.equal(c.path, path)
    assert.equal(c.moduleName, 'kpc_fixture')
    assert.equal(c.buildId, di.buildId)
    assert.deepEqual(c.lines, di.lines)
  }
})

test('errors: missing file, no debug info, stale debug file, not ELF, bad blob', () => {
  const missing = join(tmp, 'nope.ko')
  assert.throws(() => loadDebugInfo(missing), errorWith('ENOENT', missing))
  assert.throws(() => loadDebugInfo(ko, { debugFile: missing }), errorWith('ENOENT', missing))
  assert.throws(
    () => loadDebugInfo(nodebug),
    (e: unknown) => {
      errorWith('ENODATA')(e)
      assert.equal(
        (e as Error).message,
        `${nodebug} has no debug info: rebuild it with -g (CONFIG_DEBUG_INFO=y, or ccflags-y += -g for an out-of-tree module)`,
      )
      return true
    },
  )
  // A debug file whose build-id differs (first byte of the id flipped).
  const stale = join(tmp, 'stale.debug')
  copyFileSync(debugFile, stale)
  const bytes = readFileSync(stale)
  const [noteOff] = noteSections(bytes).find(([off, size]) => parseBuildIdNote(bytes.subarray(off, off + size))) ?? [0]
  assert.ok(noteOff > 0)
  bytes[noteOff + 16] = (bytes[noteOff + 16] ?? 0) ^ 0xff // namesz, descsz, type, "GNU\0", then the id
  writeFileSync(stale, bytes)
  assert.throws(() => loadDebugInfo(nodebug, { debugFile: stale }), errorWith('ESTALE', stale))
  assert.throws(() => loadDebugInfo(source), errorWith('ENOEXEC', source))
  assert.throws(() => parseDebugInfo(new Uint8Array(512)), errorWith('EABI', 'make -C native'))
})
