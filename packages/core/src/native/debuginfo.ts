/**
 * loadDebugInfo(): a .ko / vmlinux / debug file -> DebugInfo, through ONE
 * call of libkprobecov's kpc_debuginfo_load(_split) and a DataView parse of
 * the blob it returns (layout: native/include/libkprobecov.h).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type {
  BranchSuccessor,
  DebugBranch,
  DebugFunction,
  DebugInfo,
  DebugLine,
  DebugSection,
  KcovSite,
} from '../debuginfo/types.ts'
import { KprobecovError, errnoError, errnoMessage } from '../errors.ts'
import {
  BLOB_MAGIC,
  BLOB_NONE,
  BLOB_VERSION,
  BlobBlockStart,
  BlockStartKind,
  BlobBranch,
  BlobFlag,
  BlobFunction,
  BlobHeader,
  BlobKcovSite,
  BlobLine,
  BlobSection,
  BlobSuccessor,
  DI_NO_BRANCHES,
  DI_NO_INLINES,
  ET_EXEC,
  FnFlag,
  KcovSiteKind,
  LINE_STMT,
  LINE_MARKER,
  BlockEnd,
  BS_FROM_OTHER,
  SecFlag,
} from './abi.ts'
import { kpcDebuginfoLoad, kpcDebuginfoLoadSplit, kpcFree, kpcLastError, memcpyFrom } from './lib.ts'

export interface LoadDebugInfoOptions {
  /** Find conditional branches (capstone); default true. */
  branches?: boolean
  /** A separate file with the DWARF (objcopy --only-keep-debug, a distribution's -dbg file). */
  debugFile?: string
}

const { ENOENT, EACCES, ENOEXEC, ENODATA, ESTALE } = constants.errno

/**
 * Reads the functions, line table and (unless `branches: false`) the
 * conditional branches of a kernel object. A compressed module (.ko.xz,
 * .ko.zst, .ko.gz, as distributions install them) is decompressed into a
 * temporary file first (xz and zstd with their command-line tools, gzip
 * with zlib); `path` of the result is the caller's path either way.
 * Throws KprobecovError: ENOENT (no such file), ENODATA (no debug info),
 * ESTALE (debugFile is not that object's), ENOEXEC (not an x86-64 ELF),
 * ENOLIB (libkprobecov.so missing).
 */
export function loadDebugInfo(path: string, options: LoadDebugInfoOptions = {}): DebugInfo {
  for (const [file, what] of [
    [path, 'the object'],
    [options.debugFile, 'the debug file'],
  ] as const) {
    if (file !== undefined && !existsSync(file)) {
      throw new KprobecovError('ENOENT', `${file} does not exist (${what} to read debug info from): check the path, or build it first`, {
        errno: ENOENT,
      })
    }
  }
  const decompressed = decompress(path)
  try {
    const blob = loadBlob(decompressed?.file ?? path, path, options)
    return parseDebugInfo(blob, path)
  } finally {
    if (decompressed) rmSync(decompressed.dir, { recursive: true, force: true })
  }
}

/** For a .xz/.zst/.gz file: a temporary uncompressed copy. */
function decompress(path: string): { dir: string; file: string } | undefined {
  const ext = /\.(xz|zst|gz)$/.exec(path)?.[1]
  if (ext === undefined) return undefined
  let data: Buffer
  try {
    if (ext === 'gz') data = gunzipSync(readFileSync(path))
    else {
      const tool = ext === 'xz' ? 'xz' : 'zstd'
      data = execFileSync(tool, ['-dc', '--', path], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] })
    }
  } catch (cause) {
    const tool = ext === 'xz' ? 'xz (xz-utils)' : ext === 'zst' ? 'zstd' : 'zlib'
    throw new KprobecovError('ENOEXEC', `${path} cannot be decompressed with ${tool}: install the tool, or decompress the module yourself and pass that file`, {
      cause,
    })
  }
  const dir = mkdtempSync(join(tmpdir(), 'kprobecov-'))
  const file = join(dir, basename(path).slice(0, -(ext.length + 1)))
  writeFileSync(file, data)
  return { dir, file }
}

/** One kpc_debuginfo_load(_split) call; the blob copied into JS memory and freed. */
function loadBlob(file: string, shownPath: string, options: LoadDebugInfoOptions): Uint8Array {
  const flags = DI_NO_INLINES | (options.branches === false ? DI_NO_BRANCHES : 0)
  const ptr = new BigUint64Array(1)
  const len = new BigUint64Array(1)
  const ret =
    options.debugFile === undefined
      ? kpcDebuginfoLoad(file, flags, new Uint8Array(ptr.buffer), new Uint8Array(len.buffer))
      : kpcDebuginfoLoadSplit(file, options.debugFile, flags, new Uint8Array(ptr.buffer), new Uint8Array(len.buffer))
  if (ret < 0) throw loadError(-ret, shownPath, options.debugFile, kpcLastError())
  const address = ptr[0] ?? 0n
  try {
    const n = Number(len[0] ?? 0n)
    // 8-byte aligned storage, so the DataView reads need no copying.
    const blob = new Uint8Array(new ArrayBuffer(Math.ceil(n / 8) * 8), 0, n)
    memcpyFrom(blob, address, n)
    return blob
  } finally {
    kpcFree(address)
  }
}

function loadError(errno: number, path: string, debugFile: string | undefined, detail: string): KprobecovError {
  const and = debugFile === undefined ? '' : ` (nor ${debugFile})`
  switch (errno) {
    case ENODATA: {
      // A distribution's module is stripped: its DWARF is in the kernel's debug package.
      const distro = /^\/(usr\/)?lib\/modules\/([^/]+)\//.exec(path)?.[2]
      const hint = distro === undefined ? '' : `; for a distribution's module, install its debug package (e.g. linux-image-${distro}-dbg) and pass debugFile`
      return new KprobecovError(
        'ENODATA',
        `${path}${and} has no debug info: rebuild it with -g (CONFIG_DEBUG_INFO=y, or ccflags-y += -g for an out-of-tree module)${hint}`,
        { errno },
      )
    }
    case ENOENT:
      return new KprobecovError('ENOENT', `${detail || `${path} not found`}: check the path, or build it first`, { errno })
    case ESTALE:
      return new KprobecovError(
        'ESTALE',
        `${debugFile ?? 'the debug file'} does not match ${path} (another build-id): use the debug file of the same build`,
        { errno },
      )
    case ENOEXEC:
      return new KprobecovError('ENOEXEC', `${path} is not an x86-64 ELF object (a .ko, vmlinux or debug file)`, { errno })
    case EACCES:
      return errnoError(errno, `cannot read ${path}: permission denied: make it readable, or run as its owner`)
    default:
      return errnoError(errno, `cannot read the debug info of ${path}: ${detail || errnoMessage(errno)}`)
  }
}

function protocolError(what: string): KprobecovError {
  return new KprobecovError('EABI', `the debug-info blob from libkprobecov.so is malformed (${what}): install @kprobecov/core and its native package at one version (in a checkout of kprobecov: make -C native)`)
}

interface Table {
  offset: number
  count: number
  stride: number
}

/**
 * Parses a blob of kpc_debuginfo_load() into DebugInfo. Exported for tests;
 * `path` overrides the path recorded in the blob.
 */
export function parseDebugInfo(blob: Uint8Array, path?: string): DebugInfo {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength)
  if (blob.byteLength < BlobHeader.SIZE || dv.getBigUint64(BlobHeader.magic, true) !== BLOB_MAGIC) {
    throw protocolError('bad magic')
  }
  const version = dv.getUint32(BlobHeader.version, true)
  if (version !== BLOB_VERSION) throw protocolError(`version ${version}, expected ${BLOB_VERSION}`)
  if (dv.getUint32(BlobHeader.header_size, true) < BlobHeader.SIZE) throw protocolError('short header')
  if (dv.getBigUint64(BlobHeader.blob_size, true) !== BigInt(blob.byteLength)) throw protocolError('size')

  const u32 = (off: number): number => dv.getUint32(off, true)
  /** A u64 that must fit a JS number (sizes and offsets inside one object). */
  const u64 = (off: number): number => {
    const hi = dv.getUint32(off + 4, true)
    if (hi >= 0x200000) throw protocolError(`64-bit value at ${off} too large`)
    return hi * 0x1_0000_0000 + dv.getUint32(off, true)
  }
  const table = (at: number, minStride: number, name: string): Table => {
    const t = { offset: u64(at), count: u32(at + 8), stride: u32(at + 12) }
    if (t.count > 0 && (t.stride < minStride || t.offset + t.count * t.stride > blob.byteLength)) {
      throw protocolError(`table ${name}`)
    }
    return t
  }
  const strings = table(BlobHeader.strings, 1, 'strings')
  const filesT = table(BlobHeader.files, 4, 'files')
  const sectionsT = table(BlobHeader.sections, BlobSection.SIZE, 'sections')
  const functionsT = table(BlobHeader.functions, BlobFunction.SIZE, 'functions')
  const linesT = table(BlobHeader.lines, BlobLine.SIZE, 'lines')
  const branchesT = table(BlobHeader.branches, BlobBranch.SIZE, 'branches')
  const blockStartsT = table(BlobHeader.block_starts, BlobBlockStart.SIZE, 'block_starts')
  const kcovSitesT = table(BlobHeader.kcov_sites, BlobKcovSite.SIZE, 'kcov_sites')
  const hasFlow = (dv.getUint32(BlobHeader.flags, true) & BlobFlag.HAS_FLOW) !== 0

  const decoder = new TextDecoder('utf-8')
  const cache = new Map<number, string>()
  const str = (off: number): string => {
    if (off === 0) return ''
    let s = cache.get(off)
    if (s === undefined) {
      if (off >= strings.count) throw protocolError(`string offset ${off}`)
      const start = strings.offset + off
      const end = blob.indexOf(0, start)
      if (end < 0 || end >= strings.offset + strings.count) throw protocolError(`string at ${off}`)
      s = decoder.decode(blob.subarray(start, end))
      cache.set(off, s)
    }
    return s
  }
  const index = (v: number): number | undefined => (v === BLOB_NONE ? undefined : v)

  const files: string[] = []
  for (let i = 0; i < filesT.count; i++) files.push(str(u32(filesT.offset + i * filesT.stride)))
  if (files.length === 0) files.push('')

  const sections: DebugSection[] = []
  for (let i = 0; i < sectionsT.count; i++) {
    const at = sectionsT.offset + i * sectionsT.stride
    const flags = u32(at + BlobSection.flags)
    sections.push({
      name: str(u32(at + BlobSection.name)),
      init: (flags & SecFlag.INIT) !== 0,
      exit: (flags & SecFlag.EXIT) !== 0,
      size: u64(at + BlobSection.size),
    })
  }

  const functions: DebugFunction[] = []
  for (let i = 0; i < functionsT.count; i++) {
    const at = functionsT.offset + i * functionsT.stride
    const flags = u32(at + BlobFunction.flags)
    const fn: DebugFunction = {
      symbol: str(u32(at + BlobFunction.name)),
      name: str(u32(at + BlobFunction.source_name)),
      section: u32(at + BlobFunction.section),
      sectionOffset: u64(at + BlobFunction.offset),
      size: u64(at + BlobFunction.size),
      declFile: u32(at + BlobFunction.decl_file),
      declLine: u32(at + BlobFunction.decl_line),
      global: (flags & FnFlag.GLOBAL) !== 0,
      noDwarf: (flags & FnFlag.NO_DWARF) !== 0,
      ambiguous: (flags & FnFlag.AMBIGUOUS) !== 0,
      firstLine: u32(at + BlobFunction.first_line),
      nrLines: u32(at + BlobFunction.nr_lines),
      firstBranch: u32(at + BlobFunction.first_branch),
      nrBranches: u32(at + BlobFunction.nr_branches),
    }
    const aliasOf = index(u32(at + BlobFunction.alias_of))
    if (flags & FnFlag.ALIAS && aliasOf !== undefined) fn.aliasOf = aliasOf
    const parent = index(u32(at + BlobFunction.parent))
    if (flags & FnFlag.COLD && parent !== undefined) fn.parent = parent
    functions.push(fn)
  }
  // Block starts that branches do not show (jmp targets, after jmp/ret), per function.
  for (let i = 0; i < blockStartsT.count; i++) {
    const at = blockStartsT.offset + i * blockStartsT.stride
    const fn = functions[u32(at + BlobBlockStart.function)]
    if (fn === undefined) throw protocolError(`block start ${i}: function`)
    const offset = u32(at + BlobBlockStart.offset)
    const starts = (fn.blockStarts ??= [])
    if (starts[starts.length - 1] !== offset) starts.push(offset)
    if (blockStartsT.stride >= BlobBlockStart.kind + 4) {
      const k = (fn.blockKinds ??= { jumpTargets: [], afterEnds: [], indirectJumps: false })
      const kind = u32(at + BlobBlockStart.kind)
      if (kind === BlockStartKind.JUMP_TARGET && k.jumpTargets[k.jumpTargets.length - 1] !== offset) k.jumpTargets.push(offset)
      if ((kind === BlockStartKind.AFTER_END || kind === BlockStartKind.AFTER_INDIRECT) && k.afterEnds[k.afterEnds.length - 1] !== offset) k.afterEnds.push(offset)
      if (kind === BlockStartKind.AFTER_INDIRECT) k.indirectJumps = true
      if (hasFlow) {
        const from = u32(at + BlobBlockStart.from)
        if (kind === BlockStartKind.JUMP_TARGET) {
          const other = (from & BS_FROM_OTHER) !== 0
          const at = (from & ~BS_FROM_OTHER) >>> 0
          ;(k.jumps ??= []).push(at === 0 ? [offset, -1] : other ? [offset, at - 1, 'other'] : [offset, at - 1])
        }
        if (kind === BlockStartKind.AFTER_END && from === BlockEnd.LEAVE) (k.leaves ??= []).push(offset)
      }
    }
  }
  // A blob with kinds says it for every function, those without block starts too.
  if (blockStartsT.stride >= BlobBlockStart.kind + 4) {
    for (const fn of functions) {
      fn.blockKinds ??= { jumpTargets: [], afterEnds: [], indirectJumps: false }
      if (hasFlow) {
        fn.blockKinds.jumps ??= []
        fn.blockKinds.leaves ??= []
      }
    }
  }

  const lines: DebugLine[] = new Array(linesT.count)
  for (let i = 0; i < linesT.count; i++) {
    const at = linesT.offset + i * linesT.stride
    const fn = index(u32(at + BlobLine.function))
    const line: DebugLine = {
      section: u32(at + BlobLine.section),
      sectionOffset: u64(at + BlobLine.section_offset),
      offset: fn === undefined ? 0 : u32(at + BlobLine.function_offset),
      file: u32(at + BlobLine.file),
      line: u32(at + BlobLine.line),
      isStmt: (dv.getUint16(at + BlobLine.flags, true) & LINE_STMT) !== 0,
    }
    if (dv.getUint16(at + BlobLine.flags, true) & LINE_MARKER) line.marker = true
    if (fn !== undefined) line.function = fn
    lines[i] = line
  }

  const successor = (at: number): BranchSuccessor => {
    const fn = index(u32(at + BlobSuccessor.function))
    const s: BranchSuccessor = {
      offset: u32(at + BlobSuccessor.offset),
      file: u32(at + BlobSuccessor.file),
      line: u32(at + BlobSuccessor.line),
    }
    if (fn !== undefined) s.function = fn
    return s
  }
  const branches: DebugBranch[] = new Array(branchesT.count)
  for (let i = 0; i < branchesT.count; i++) {
    const at = branchesT.offset + i * branchesT.stride
    branches[i] = {
      function: u32(at + BlobBranch.function),
      offset: u32(at + BlobBranch.offset),
      file: u32(at + BlobBranch.file),
      line: u32(at + BlobBranch.line),
      mnemonic: str(u32(at + BlobBranch.mnemonic)),
      taken: successor(at + BlobBranch.taken),
      fallthrough: successor(at + BlobBranch.fallthrough),
    }
  }

  const kinds: Record<number, KcovSite['kind']> = {
    [KcovSiteKind.PC]: 'pc', [KcovSiteKind.CMP]: 'cmp', [KcovSiteKind.SWITCH]: 'switch', [KcovSiteKind.CALL]: 'call',
  }
  const kcovSites: KcovSite[] = []
  for (let i = 0; i < kcovSitesT.count; i++) {
    const at = kcovSitesT.offset + i * kcovSitesT.stride
    const kind = kinds[dv.getUint16(at + BlobKcovSite.kind, true)]
    if (kind === undefined) continue // a kind of a later version
    const fn = index(u32(at + BlobKcovSite.function))
    const site: KcovSite = {
      section: u32(at + BlobKcovSite.section),
      sectionOffset: u64(at + BlobKcovSite.section_offset),
      offset: u32(at + BlobKcovSite.offset),
      kind,
      cmpType: dv.getUint16(at + BlobKcovSite.cmp_type, true),
    }
    if (fn !== undefined) site.function = fn
    kcovSites.push(site)
  }

  const idSize = u32(BlobHeader.build_id_size)
  if (idSize > BlobHeader.BUILD_ID_MAX) throw protocolError('build-id size')
  const buildId = Buffer.from(blob.buffer, blob.byteOffset + BlobHeader.build_id, idSize).toString('hex')

  return {
    path: path ?? str(u32(BlobHeader.path)),
    // vmlinux (ET_EXEC) is not a module: '' by the DebugInfo contract.
    moduleName: u32(BlobHeader.elf_type) === ET_EXEC ? '' : str(u32(BlobHeader.module_name)),
    buildId,
    srcversion: str(u32(BlobHeader.srcversion)),
    vermagic: str(u32(BlobHeader.vermagic)),
    hasBranches: (u32(BlobHeader.flags) & BlobFlag.HAS_BRANCHES) !== 0,
    files,
    sections,
    functions,
    lines,
    branches,
    ...(kcovSites.length > 0 ? { kcovSites } : {}),
  }
}
