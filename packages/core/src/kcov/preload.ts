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
const MAGIC = 0x31564f434b43504bn // "KPCKCOV1"

/** libkpc-kcov-preload.so, next to libkprobecov.so. Throws KprobecovError ENOLIB naming the fix. */
export function locatePreload(env: NodeJS.ProcessEnv = process.env): string {
  const file = path.join(path.dirname(locateNativeLibrary(env)), PRELOAD_NAME)
  if (!existsSync(file)) {
    throw new KprobecovError('ENOLIB', `${file} is missing: build it with \`make -C native\` in the kprobecov repository`)
  }
  return file
}

/**
 * x86-64's module area (MODULES_VADDR .. MODULES_END, either layout), as KCOV
 * gives its PCs (minus the KASLR offset): the preload library keeps only
 * PCs there, which drops the rest of the kernel early.
 */
export function moduleArea(kaslr: bigint): string {
  const lo = 0xffffffffa0000000n - kaslr
  const hi = 0xffffffffff000000n - kaslr
  return `${lo.toString(16)}-${hi.toString(16)}`
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
  return out
}

export interface PreloadRecords {
  /** PC → times recorded, summed over the files. */
  pcs: Map<bigint, bigint>
  comparisons: KcovComparison[]
  /** Buffers that filled up between drains. */
  overflows: number
  /** Files read (one per process exit or exec). */
  files: number
  /** Processes that wrote. */
  processes: number
}

/** Reads (and with remove, deletes) the files the preload library wrote to dir. */
export function readPreloadRecords(dir: string, remove: boolean): PreloadRecords {
  const out: PreloadRecords = { pcs: new Map(), comparisons: [], overflows: 0, files: 0, processes: 0 }
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => /^kcov-\d+-\d+\.bin$/.test(n))
  } catch {
    return out
  }
  const pids = new Set<string>()
  const cmps = new Map<string, KcovComparison>()
  for (const name of names.sort()) {
    const file = path.join(dir, name)
    let buf: Buffer
    try {
      buf = readFileSync(file)
    } catch {
      continue
    }
    if (remove) rmSync(file, { force: true })
    if (buf.length < 32 || buf.length % 8 !== 0) continue
    const w = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))
    if (w[0] !== MAGIC) continue
    const mode = Number(w[1]!)
    const n = Number(w[2]!)
    const per = mode === 1 ? 5 : 2
    if (w.length < 4 + n * per) continue
    out.files++
    out.overflows += Number(w[3]!)
    pids.add(name.split('-')[1]!)
    for (let i = 0; i < n; i++) {
      const at = 4 + i * per
      if (mode === 1) {
        const type = Number(w[at]!)
        const c: KcovComparison = {
          size: 1 << ((type >> 1) & 3), constant: (type & 1) !== 0, arg1: w[at + 1]!, arg2: w[at + 2]!, pc: w[at + 3]!, count: w[at + 4]!,
        }
        const key = `${c.pc}:${type}:${c.arg1}:${c.arg2}`
        const had = cmps.get(key)
        if (had) had.count += c.count
        else cmps.set(key, c)
      } else {
        const pc = w[at]!
        out.pcs.set(pc, (out.pcs.get(pc) ?? 0n) + w[at + 1]!)
      }
    }
  }
  out.processes = pids.size
  out.comparisons = [...cmps.values()].sort((a, b) => (a.pc < b.pc ? -1 : a.pc > b.pc ? 1 : 0))
  return out
}
