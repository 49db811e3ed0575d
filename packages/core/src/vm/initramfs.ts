/**
 * The guest's initramfs: a static busybox, the modules the 9p root needs (in
 * the load order modules.dep gives, uncompressed: busybox's insmod hands the
 * file to the kernel as it is) and assets/vm-init.sh as /init. Built on first
 * use and cached in <cache>/initramfs/<release>-<hash>.cpio, the hash over
 * everything that goes in; written as an uncompressed newc cpio archive.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { KprobecovError } from '../errors.ts'
import { asset } from './assets.ts'

/** What the 9p root needs; their dependencies come from modules.dep. */
const NEEDED = ['virtio_pci', '9pnet_virtio', '9p']
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox']

const modName = (path: string): string => path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.\w+)?$/, '').replaceAll('-', '_')

/** Paths (relative to moddir) of the modules to insmod, in load order; built-in ones are left out. */
export function loadOrder(moddir: string, release: string): string[] {
  const depFile = join(moddir, 'modules.dep')
  if (!existsSync(depFile)) throw new KprobecovError('ENOKERNEL', `${moddir}/modules.dep is missing: run depmod ${release}`)
  const deps = new Map<string, string[]>()
  const pathOf = new Map<string, string>()
  for (const line of readFileSync(depFile, 'utf8').split('\n')) {
    const [m, rest] = line.split(':')
    if (!m || rest === undefined) continue
    deps.set(m, rest.trim().split(/\s+/).filter((d) => d !== ''))
    pathOf.set(modName(m), m)
  }
  const builtinFile = join(moddir, 'modules.builtin')
  const builtin = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').map(modName) : [])
  const order: string[] = []
  const seen = new Set<string>()
  // modules.dep lists a module's dependencies in unload order: walked backwards.
  const visit = (m: string) => {
    if (seen.has(m)) return
    seen.add(m)
    for (const d of [...(deps.get(m) ?? [])].reverse()) visit(d)
    order.push(m)
  }
  for (const name of NEEDED) {
    const p = pathOf.get(name)
    if (p !== undefined) visit(p)
    else if (!builtin.has(name)) throw new KprobecovError('ENOKERNEL', `kernel ${release} has neither a module nor a built-in ${name}: kprobecov vm needs virtio-pci and 9p`)
  }
  return order
}

function unpack(file: string): Buffer {
  const b = readFileSync(file)
  if (file.endsWith('.ko')) return b
  if (file.endsWith('.ko.gz')) return gunzipSync(b)
  const tool = file.endsWith('.ko.xz') ? ['xz', 'xz-utils'] : file.endsWith('.ko.zst') ? ['zstd', 'zstd'] : undefined
  if (tool !== undefined) {
    const r = spawnSync(tool[0]!, ['-dc', file], { maxBuffer: 256 << 20 })
    if (r.status !== 0) throw new KprobecovError('ENOPROGRAM', `cannot unpack ${file}: install ${tool[1]} (sudo apt-get install ${tool[1]})`)
    return r.stdout
  }
  throw new KprobecovError('ENOKERNEL', `cannot unpack module ${file}`)
}

/** One newc cpio archive of (path, mode, data | directory). */
export function cpio(entries: { path: string; mode: number; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = []
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4)
  let ino = 1
  const add = (name: string, mode: number, data: Buffer) => {
    const hex = (n: number) => n.toString(16).padStart(8, '0')
    const nameBuf = Buffer.from(`${name}\0`)
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0]
    const header = Buffer.from(`070701${fields.map(hex).join('')}`)
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length))
  }
  for (const e of entries) add(e.path, e.mode, e.data ?? Buffer.alloc(0))
  add('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(parts)
}

export function findBusybox(): string {
  for (const b of BUSYBOX) {
    if (!existsSync(b)) continue
    // A dynamically linked busybox needs libraries the initramfs does not hold.
    if (!readFileSync(b).subarray(0, 4096).includes('/lib64/ld-linux')) return b
  }
  throw new KprobecovError('ENOPROGRAM', 'no static busybox: install busybox-static (Debian/Ubuntu: sudo apt-get install busybox-static)')
}

/** The cached initramfs for a kernel (moddir: its lib/modules/R, undefined: none). */
export function initramfs(cache: string, release: string, moddir: string | undefined): string {
  const order = moddir === undefined ? [] : loadOrder(moddir, release)
  const init = readFileSync(asset('vm-init.sh'))
  const busybox = findBusybox()
  const h = createHash('sha256').update(init).update(readFileSync(busybox))
  for (const m of order) h.update(`${m}\0`).update(readFileSync(join(moddir!, m)))
  const dir = join(cache, 'initramfs')
  const file = join(dir, `vm-${release}-${h.digest('hex').slice(0, 16)}.cpio`)
  if (existsSync(file)) return file
  const dirs = ['bin', 'dev', 'proc', 'sys', 'newroot', 'modules'].map((d) => ({ path: d, mode: 0o40755 }))
  const mods = order.map((m) => ({ path: `modules/${modName(m)}.ko`, mode: 0o100644, data: unpack(join(moddir!, m)) }))
  const list = Buffer.from(order.map((m) => `${modName(m)}\n`).join(''))
  const archive = cpio([
    ...dirs,
    { path: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) },
    { path: 'init', mode: 0o100755, data: init },
    ...mods,
    { path: 'modules/list', mode: 0o100644, data: list },
  ])
  mkdirSync(dir, { recursive: true })
  const tmp = `${file}.${process.pid}`
  writeFileSync(tmp, archive)
  renameSync(tmp, file)
  return file
}
