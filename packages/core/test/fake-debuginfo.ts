/**
 * FAKE debug info for unit tests of planning and coverage: a hand-made
 * DebugInfo of an imaginary module "fakemod", never read from an object file.
 * Real objects are tested through loadDebugInfo (plan-fixture.test.ts).
 *
 *   fk_ifelse        if/else whose join is duplicated into both arms
 *   fk_check         a branch into its cold part fk_check.cold; an inlined header line
 *   fk_tail          a conditional tail call out of the object
 *   fk_init          in .init.text, aliased by init_module; blockStarts splits it
 *   fk_dup           ambiguous symbol
 *   fk_scale         two clones (.constprop.0, .isra.0) of one source function
 *   fk_zero          an arm whose block has no source line
 *   fk_asm           no DWARF
 */
import type { DebugBranch, DebugFunction, DebugInfo, DebugLine } from '../src/debuginfo/types.ts'

export const FAKE_ROOT = '/fake/src'
export const FAKE_C = '/fake/src/fake.c'
export const FAKE_H = '/fake/include/linux/hdr.h'

type Row = [offset: number, line: number, stmt?: boolean, file?: number]
type Succ = [fn: number | undefined, offset: number, line: number]
interface FakeFn {
  symbol: string
  name: string
  section: number
  sectionOffset: number
  size: number
  declLine: number
  rows: Row[]
  branches?: Array<[offset: number, line: number, taken: Succ, fallthrough: Succ]>
  aliasOf?: number
  parent?: number
  noDwarf?: boolean
  ambiguous?: boolean
  blockStarts?: number[]
}

const FNS: FakeFn[] = [
  /* 0 */ {
    symbol: 'fk_ifelse', name: 'fk_ifelse', section: 0, sectionOffset: 0, size: 0x30, declLine: 10,
    rows: [[0, 11, true], [0x5, 12, true], [0xb, 13, true], [0x10, 16, true], [0x17, 17], [0x1c, 15, true],
      [0x21, 16, true], [0x28, 17]],
    branches: [[0x9, 12, [0, 0x1c, 15], [0, 0xb, 13]]],
  },
  /* 1 */ {
    symbol: 'fk_check', name: 'fk_check', section: 0, sectionOffset: 0x30, size: 0x20, declLine: 20,
    rows: [[0, 21, true], [0x5, 22, true], [0x5, 100, false, 2], [0xd, 26, true], [0x15, 27]],
    branches: [[0x7, 22, [2, 0, 23], [1, 0xd, 26]]],
  },
  /* 2 */ {
    symbol: 'fk_check.cold', name: 'fk_check', section: 1, sectionOffset: 0, size: 0x10, declLine: 20, parent: 1,
    rows: [[0, 23, true], [0x5, 24, true]],
  },
  /* 3 */ {
    symbol: 'fk_tail', name: 'fk_tail', section: 0, sectionOffset: 0x50, size: 0x10, declLine: 30,
    rows: [[0, 31, true], [0x4, 32, true], [0x8, 33, true]],
    branches: [[0x6, 32, [undefined, 0, 0], [3, 0x8, 33]]],
  },
  /* 4 */ {
    symbol: 'fk_init', name: 'fk_init', section: 2, sectionOffset: 0, size: 0x10, declLine: 40,
    rows: [[0, 41, true], [0x3, 42, true]], blockStarts: [0x3],
  },
  /* 5 */ {
    symbol: 'init_module', name: 'fk_init', section: 2, sectionOffset: 0, size: 0x10, declLine: 40, aliasOf: 4,
    rows: [],
  },
  /* 6 */ {
    symbol: 'fk_dup', name: 'fk_dup', section: 0, sectionOffset: 0x60, size: 0x8, declLine: 45, ambiguous: true,
    rows: [[0, 46, true]],
  },
  /* 7 */ {
    symbol: 'fk_scale.constprop.0', name: 'fk_scale', section: 0, sectionOffset: 0x70, size: 0x10, declLine: 50,
    rows: [[0, 50, true], [0x5, 51, true]],
  },
  /* 8 */ {
    symbol: 'fk_scale.isra.0', name: 'fk_scale', section: 0, sectionOffset: 0x80, size: 0x10, declLine: 50,
    rows: [[0, 50, true], [0x5, 51, true]],
  },
  /* 9 */ {
    symbol: 'fk_zero', name: 'fk_zero', section: 0, sectionOffset: 0x90, size: 0x10, declLine: 60,
    rows: [[0, 61, true], [0x6, 0], [0xa, 62, true]],
    branches: [[0x4, 61, [9, 0xa, 62], [9, 0x6, 0]]],
  },
  /* 10 */ {
    symbol: 'fk_asm', name: '', section: 0, sectionOffset: 0xa0, size: 0x10, declLine: 0, noDwarf: true, rows: [],
  },
]

/** A fresh FAKE DebugInfo (tests may modify their copy). */
export function fakeDebugInfo(options: { hasBranches?: boolean } = {}): DebugInfo {
  const hasBranches = options.hasBranches ?? true
  const functions: DebugFunction[] = []
  const lines: DebugLine[] = []
  const branches: DebugBranch[] = []
  FNS.forEach((f, i) => {
    const fn: DebugFunction = {
      symbol: f.symbol, name: f.name, section: f.section, sectionOffset: f.sectionOffset, size: f.size,
      declFile: f.noDwarf ? 0 : 1, declLine: f.declLine, global: false, noDwarf: f.noDwarf ?? false,
      ambiguous: f.ambiguous ?? false, firstLine: lines.length, nrLines: f.rows.length,
      firstBranch: branches.length, nrBranches: hasBranches ? (f.branches?.length ?? 0) : 0,
    }
    if (f.aliasOf !== undefined) fn.aliasOf = f.aliasOf
    if (f.parent !== undefined) fn.parent = f.parent
    if (f.blockStarts) fn.blockStarts = f.blockStarts
    functions.push(fn)
    for (const [offset, line, stmt, file] of f.rows) {
      lines.push({
        section: f.section, sectionOffset: f.sectionOffset + offset, function: i, offset,
        file: file ?? 1, line, isStmt: stmt ?? false,
      })
    }
    if (!hasBranches) return
    for (const [offset, line, taken, fallthrough] of f.branches ?? []) {
      const succ = ([fnIdx, off, l]: Succ) =>
        fnIdx === undefined ? { offset: off, file: 0, line: l } : { function: fnIdx, offset: off, file: 1, line: l }
      branches.push({ function: i, offset, file: 1, line, mnemonic: 'je', taken: succ(taken), fallthrough: succ(fallthrough) })
    }
  })
  return {
    path: 'fakemod.ko', moduleName: 'fakemod', buildId: 'fa4e', srcversion: '', vermagic: '', hasBranches,
    files: ['', FAKE_C, FAKE_H],
    sections: [
      { name: '.text', init: false, exit: false, size: 0xb0 },
      { name: '.text.unlikely', init: false, exit: false, size: 0x10 },
      { name: '.init.text', init: true, exit: false, size: 0x10 },
    ],
    functions, lines, branches,
  }
}
