/**
 * KCOV in processes this one starts: native/'s libkpc-kcov-preload.so,
 * preloaded (LD_PRELOAD), traces every thread of every process that loads
 * it and writes their records to a directory when each exits or execs (see
 * native/preload/kcov_preload.c). This module builds the environment for it
 * and reads what it wrote.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { KprobecovError } from '../errors.ts'
import { locateNativeLibrary } from '../native/lib.ts'
import type { KcovComparison, KcovMode } from './tracer.ts'

export const PRELOAD_NAME = 'libkpc-kcov-preload.so'
const MAGIC = 0x32564f434b43504bn // "KPCKCOV2"

/** libkpc-kcov-preload.so, next to libkprobecov.so. Throws KprobecovError ENOLIB naming the fix. */
export function locatePreload(env: NodeJS.ProcessEnv = process.env): string {
  const file = path.join(path.dirname(locateNativeLibrary(env)), PRELOAD_NAME)
  if (!existsSync(file)) {
    throw new KprobecovError('ENOLIB', `${file} is missing: reinstall @kprobecov/core (in a checkout of kprobecov: make -C native)`)
  }
  return file
}

/**
 * x86-64's module area (MODULES_VADDR .. MODULES_END, either layout), as KCOV
 * gives its PCs (minus the KASLR offset): the preload library keeps only
 * PCs there, which drops the rest of the kernel early.
 */
export function moduleArea(kaslr: bigint): string {
  const r = moduleAreaRange(kaslr)
  return `${r[0]!.toString(16)}-${r[1]!.toString(16)}`
}

/** moduleArea() as a [lo, hi) pair for KcovTracer.drain. */
export function moduleAreaRange(kaslr: bigint): BigUint64Array {
  return BigUint64Array.of(0xffffffffa0000000n - kaslr, 0xffffffffff000000n - kaslr)
}

export interface PreloadOptions {
  /** Where the processes write their records (must exist). */
  dir: string
  mode: KcovMode
  /** Records per main thread between drains. */
  buffer: number
  kaslr: bigint
  /** The KCOV file. */
  path: string
  /** Modules whose section addresses go with the records (at the start and at the write of each process). */
  modules?: readonly string[]
}

/** The variables a process needs to be traced, added to `env` (LD_PRELOAD first). */
export function preloadEnv(options: PreloadOptions, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const lib = locatePreload(env as NodeJS.ProcessEnv)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  const others = (env.LD_PRELOAD ?? '').split(/[: ]/).filter((p) => p !== '' && p !== lib)
  out.LD_PRELOAD = [lib, ...others].join(':')
  out.KPROBECOV_KCOV_OUT = options.dir
  out.KPROBECOV_KCOV_MODE = options.mode
  out.KPROBECOV_KCOV_BUFFER = String(options.buffer)
  out.KPROBECOV_KCOV_RANGES = moduleArea(options.kaslr)
  out.KPROBECOV_KCOV_PATH = options.path
  if (options.modules?.length) out.KPROBECOV_KCOV_MODULES = options.modules.join(',')
  else delete out.KPROBECOV_KCOV_MODULES
  return out
}

/** Where a process saw the listed modules' sections: module → section → address. */
export type ModuleBases = Map<string, Map<string, bigint>>

/** What one process wrote (at its exit, or before an exec). */
export interface PreloadFile {
  pid: number
  /** PC → times recorded. */
  pcs: Map<bigint, bigint>
  comparisons: KcovComparison[]
  /** The modules' sections when it wrote, then when it started (when it listed any). */
  bases: ModuleBases[]
}

export interface PreloadRecords {
  files: PreloadFile[]
  /** Buffers that filled up between drains. */
  overflows: number
  /** Processes that wrote. */
  processes: number
}

function parseBases(text: string): ModuleBases[] {
  const [start, end] = text.split(/^--$/m)
  const parse = (part: string | undefined): ModuleBases => {
    const m: ModuleBases = new Map()
    for (const line of (part ?? '').split('\n')) {
      const [module, section, addr] = line.trim().split(/\s+/)
      if (!module || !section || !addr || !/^0x[0-9a-f]+$/i.test(addr)) continue
      let secs = m.get(module)
      if (!secs) m.set(module, (secs = new Map()))
      secs.set(section, BigInt(addr))
    }
    return m
  }
  return [parse(end), parse(start)].filter((b) => b.size > 0)
}

/** Reads (and with remove, deletes) the files the preload library wrote to dir, oldest first. */
export function readPreloadRecords(dir: string, remove: boolean): PreloadRecords {
  const out: PreloadRecords = { files: [], overflows: 0, processes: 0 }
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => /^kcov-\d+-\d+\.bin$/.test(n))
  } catch {
    return out
  }
  const pids = new Set<number>()
  for (const name of names.sort()) {
    const file = path.join(dir, name)
    let buf: Buffer
    try {
      buf = readFileSync(file)
    } catch {
      continue
    }
    if (remove) rmSync(file, { force: true })
    if (buf.length < 40) continue
    const head = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 40))
    if (head[0] !== MAGIC) continue
    const mode = Number(head[1]!)
    const n = Number(head[2]!)
    const per = mode === 1 ? 5 : 2
    const textBytes = Number(head[4]!)
    if (buf.length !== 40 + n * per * 8 + textBytes) continue
    const w = new BigUint64Array(buf.buffer.slice(buf.byteOffset + 40, buf.byteOffset + 40 + n * per * 8))
    const pid = Number(name.split('-')[1])
    const f: PreloadFile = { pid, pcs: new Map(), comparisons: [], bases: parseBases(buf.toString('latin1', 40 + n * per * 8)) }
    out.overflows += Number(head[3]!)
    pids.add(pid)
    for (let i = 0; i < n; i++) {
      const at = i * per
      if (mode === 1) {
        const type = Number(w[at]!)
        f.comparisons.push({
          size: 1 << ((type >> 1) & 3), constant: (type & 1) !== 0, arg1: w[at + 1]!, arg2: w[at + 2]!, pc: w[at + 3]!, count: w[at + 4]!,
        })
      } else {
        const pc = w[at]!
        f.pcs.set(pc, (f.pcs.get(pc) ?? 0n) + w[at + 1]!)
      }
    }
    out.files.push(f)
  }
  out.processes = pids.size
  return out
}

/** ModuleBases as the map's targets want them (per target, by module name). */
export function targetBases(targets: ReadonlyArray<{ module: string }>, bases: ModuleBases): Array<Map<string, bigint> | undefined> {
  return targets.map((t) => bases.get(t.module))
}
