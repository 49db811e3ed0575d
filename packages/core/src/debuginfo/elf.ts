/**
 * hasDwarf(): whether a file is an ELF object with DWARF, from its section
 * headers alone (a vmlinux with debug info is hundreds of megabytes: only the
 * ELF header, the section header table and the section name table are read).
 */
import { closeSync, openSync, readSync } from 'node:fs'

const SHT_NOBITS = 8

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  const n = readSync(fd, buf, 0, length, offset)
  return n === length ? buf : buf.subarray(0, n)
}

/**
 * True when `file` is a 64-bit little-endian ELF object with a non-empty
 * .debug_info (or compressed .zdebug_info) section; false for anything else,
 * a missing or unreadable file included.
 */
export function hasDwarf(file: string): boolean {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch {
    return false
  }
  try {
    const eh = readAt(fd, 0, 64)
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return false
    const shoff = Number(eh.readBigUInt64LE(0x28))
    const shentsize = eh.readUInt16LE(0x3a)
    const shnum = eh.readUInt16LE(0x3c)
    const shstrndx = eh.readUInt16LE(0x3e)
    if (shoff === 0 || shentsize < 64 || shnum === 0 || shstrndx >= shnum) return false
    const sh = readAt(fd, shoff, shnum * shentsize)
    if (sh.length < shnum * shentsize) return false
    const at = (i: number) => i * shentsize
    const strtab = readAt(fd, Number(sh.readBigUInt64LE(at(shstrndx) + 0x18)), Number(sh.readBigUInt64LE(at(shstrndx) + 0x20)))
    for (let i = 0; i < shnum; i++) {
      const nameOff = sh.readUInt32LE(at(i))
      const end = strtab.indexOf(0, nameOff)
      const name = strtab.toString('latin1', nameOff, end < 0 ? strtab.length : end)
      if (name !== '.debug_info' && name !== '.zdebug_info') continue
      if (sh.readUInt32LE(at(i) + 4) !== SHT_NOBITS && sh.readBigUInt64LE(at(i) + 0x20) > 0n) return true
    }
    return false
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
}
