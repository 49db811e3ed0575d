/**
 * Kernel images: the release string an image carries, and the uncompressed
 * ELF kernel inside a bzImage (booted through its PVH entry, QEMU under TCG
 * skips the decompressor: 2.5 s less per boot).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { KprobecovError } from '../errors.ts'
import { runSync, type Deadline } from './phases.ts'

const isElf = (b: Buffer): boolean => b.length >= 4 && b.readUInt32BE(0) === 0x7f454c46

function head(file: string, bytes: number): Buffer {
  const fd = openSync(file, 'r')
  try {
    const b = Buffer.alloc(bytes)
    return b.subarray(0, readSync(fd, b, 0, bytes, 0))
  } finally {
    closeSync(fd)
  }
}

/**
 * The release (uname -r) of a kernel image, undefined when none is found. A
 * bzImage has it NUL-terminated at 0x200 + the 16-bit offset at 0x20e
 * (Documentation/arch/x86/boot.rst, kernel_version); an ELF vmlinux has it in
 * its linux_banner, "Linux version R ".
 */
export function imageRelease(file: string): string | undefined {
  const b = head(file, 0x10000)
  if (isElf(b)) {
    const m = /Linux version (\S+) /.exec(readFileSync(file).toString('latin1'))
    return m?.[1]
  }
  if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined
  const at = 0x200 + b.readUInt16LE(0x20e)
  const end = b.indexOf(0, at)
  return end > at ? b.toString('latin1', at, end).split(' ')[0] : undefined
}

/** Writes the ELF kernel a bzImage holds to `out` (its payload: xz or zstd). */
export function extractVmlinux(bz: string, out: string, deadline: Deadline): void {
  const b = readFileSync(bz)
  // Boot protocol: the payload starts at (setup_sects + 1) * 512 + payload_offset and is
  // payload_length bytes, whose last 4 are the uncompressed size the kernel build appends.
  const sects = b[0x1f1] || 4
  const start = (sects + 1) * 512 + b.readUInt32LE(0x248)
  const payload = b.subarray(start, start + b.readUInt32LE(0x24c) - 4)
  const magic = payload.readUInt32BE(0)
  const tool = magic === 0xfd377a58 ? { program: 'xz', pkg: 'xz-utils' } : magic === 0x28b52ffd ? { program: 'zstd', pkg: 'zstd' } : undefined
  if (tool === undefined) throw new KprobecovError('ENOKERNEL', `${bz}: a payload kprobecov cannot unpack (magic ${magic.toString(16)}): give the bzImage's own ELF vmlinux as --kernel`)
  // Through a shell: the payload is hundreds of MB uncompressed, a file not a buffer.
  const r = runSync('sh', ['-c', `dd if="$1" iflag=skip_bytes,count_bytes skip=$2 count=$3 bs=1M status=none | ${tool.program} -dc >"$4"`, 'sh', bz, String(start), String(payload.length), out], { phase: 'fetch', deadline })
  if (r.status !== 0 || !isElf(head(out, 4))) {
    throw new KprobecovError('ENOKERNEL', `${bz} holds no ELF kernel kprobecov can unpack (${r.stderr.trim() || `${tool.program} failed`}): is ${tool.pkg} installed?`)
  }
}
