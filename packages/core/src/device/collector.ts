/**
 * Collector: one open file descriptor of /dev/kprobecov (one collector in the
 * kernel), driven through libkprobecov. Follows the fd's state machine of
 * linux/kprobecov.h:
 *
 *   Collector.open() -> init() (sizes it and maps the counter area)
 *     -> addProbes() ... -> arm() / disarm()
 *     -> attach() -> code under test runs -> detach() -> readCounters()
 *     -> release() -> ... -> close() (the kernel removes every probe)
 *
 * Cost per test file: attach, detach, readCounters and release are one
 * native call each (readCounters copies every counter of the slot in one
 * call; collect() does the last three). Counters, sample ids and addresses
 * are bigint / BigUint64Array; probe and slot indices are numbers.
 *
 * Every failure is a KprobecovError whose one-line message names the fix.
 *
 * Why ~700 lines: one class, a method per ioctl of the fd's state machine
 * (as linux/kprobecov.h lists them) with the private state they share (fd,
 * counter area, sizes, probe count); its parts with a seam are apart:
 * collector-types.ts, open-diagnosis.ts, share.ts, probe-batch.ts.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_SLOTS } from '../defaults.ts'
import { KprobecovError, errnoError, errnoMessage, errnoName } from '../errors.ts'
import {
  ABI_VERSION,
  ALL_SLOTS,
  AddProbes,
  AreaHeader,
  Caller,
  KIND_OF,
  KPROBECOV_INIT_CALLERS,
  MAX_BATCH,
  MAX_EDGE_BITS,
  PROBE_STATUS_SIZE,
  Probe,
  ProbeState,
  Scope,
  SYMBOL_LEN,
  Select,
  SlotState,
  SlotStats as SlotStatsLayout,
  VERSION_SIZE,
} from '../native/abi.ts'
import * as native from '../native/lib.ts'
import { bytes, first, nonNegativeInt, num, u64Out, utf8d } from './bytes.ts'
import {
  DEFAULT_DEVICE,
  type AddProbesResult,
  type AttachOptions,
  type AttachScope,
  type CallerEntry,
  type Callers,
  type CollectorLimits,
  type InitOptions,
  type NextUnhitOptions,
  type ProbeSelection,
  type ProbeSpec,
  type ProbeStatuses,
  type SlotStats,
  type Trace,
} from './collector-types.ts'
import { abiMismatch, deviceOpenError } from './open-diagnosis.ts'
import { encodeBatch, newAddResult, type Batch } from './probe-batch.ts'
import { parseShareToken, shareToken, unreachable } from './share.ts'
import type { SystemPaths } from './system.ts'

export * from './collector-types.ts'
export { abiMismatch, deviceOpenError } from './open-diagnosis.ts'
export { ProbeState, probeKindOfState } from '../native/abi.ts'

const SCOPE_OF: Record<AttachScope, number> = {
  thread: Scope.THREAD,
  process: Scope.PROCESS,
  tree: Scope.TREE,
  global: Scope.GLOBAL,
}
const SCOPE_NAME: Record<number, AttachScope> = { 1: 'thread', 2: 'process', 3: 'tree', 4: 'global' }

/** KPROBECOV_GET_VERSION of an fd: the module's ABI and limits, or the -errno. */
function queryLimits(fd: number): CollectorLimits | number {
  const v = new BigUint64Array(VERSION_SIZE / 8)
  const ret = native.kpcDevVersion(fd, bytes(v))
  if (ret < 0) return ret
  return {
    abi: num(v[0] ?? 0n),
    maxProbes: num(v[1] ?? 0n),
    maxSlots: num(v[2] ?? 0n),
    maxAreaBytes: num(v[3] ?? 0n),
    maxTasks: num(v[4] ?? 0n),
    maxCallers: num(v[5] ?? 0n),
  }
}

interface Resources {
  fd: number
  area: bigint
  areaBytes: bigint
}

/** Closes what a collector left open when it is garbage-collected without close(). */
const finalizer = new FinalizationRegistry<Resources>((r) => {
  if (r.area !== 0n) native.kpcDevUnmap(r.area, r.areaBytes)
  native.kpcDevClose(r.fd)
})

export class Collector {
  /** The device path it was opened from. */
  readonly path: string
  readonly limits: CollectorLimits
  readonly #res: Resources
  #init: Required<InitOptions> | undefined
  #nrProbes = 0
  #closed = false

  private constructor(path: string, fd: number, limits: CollectorLimits) {
    this.path = path
    this.limits = limits
    this.#res = { fd, area: 0n, areaBytes: 0n }
    finalizer.register(this, this.#res, this)
  }

  /**
   * Opens a new collector. Checks the module's ABI version and that kprobes
   * are not switched off (/sys/kernel/debug/kprobes/enabled, when readable).
   * Throws KprobecovError ENODEV / ENOKPROBES / EACCES / EABI.
   */
  static open(path: string = DEFAULT_DEVICE, paths: SystemPaths = {}): Collector {
    const fd = native.kpcDevOpen(path)
    if (fd < 0) throw deviceOpenError(-fd, path, paths)
    const limits = queryLimits(fd)
    if (typeof limits === 'number') {
      native.kpcDevClose(fd)
      throw errnoError(limits, `${path} does not answer KPROBECOV_GET_VERSION (${errnoMessage(limits)}): is it kprobecov's device?`)
    }
    if (limits.abi !== ABI_VERSION) {
      native.kpcDevClose(fd)
      throw abiMismatch(limits.abi)
    }
    let enabled: string | undefined
    try {
      enabled = readFileSync(`${paths.sys ?? '/sys'}/kernel/debug/kprobes/enabled`, 'utf8').trim()
    } catch {
      // debugfs not mounted or not root: nothing to learn
    }
    if (enabled === '0') {
      native.kpcDevClose(fd)
      throw new KprobecovError(
        'ENOKPROBES',
        'kprobes are switched off on this kernel (probes would never fire): echo 1 | sudo tee /sys/kernel/debug/kprobes/enabled',
      )
    }
    return new Collector(path, fd, limits)
  }

  /**
   * A token (one line of JSON) through which processes this one starts - the
   * workers of a test runner - reach this same collector with adopt(): the fd
   * is kept open across exec from now on. Put it in their environment.
   */
  share(): string {
    this.#ready('share')
    const ret = native.kpcDevInherit(this.#res.fd, 1)
    if (ret < 0) throw this.#error('share', ret, {})
    return shareToken({ fd: this.#res.fd, areaBytes: this.#res.areaBytes.toString(), path: this.path, pid: process.pid })
  }

  /**
   * This process's view of a collector shared by the process that started it
   * (share()), or by this process itself: the same counters and slots, through
   * an fd of its own that close() drops. The inherited fd is closed on exec
   * again, so what the worker runs does not hold the collector open. Throws KprobecovError ENOCOLLECTOR when the fd is not
   * the shared collector (not inherited, or the token is stale).
   */
  static adopt(token: string): Collector {
    const shared = parseShareToken(token)
    const lost = (why: string) => unreachable(shared, why)
    const limits = queryLimits(shared.fd)
    if (typeof limits === 'number') throw lost(errnoName(limits) === 'EBADF' ? 'not inherited' : `not kprobecov's device: ${errnoName(limits)}`)
    if (limits.abi !== ABI_VERSION) throw lost(`ABI ${limits.abi}, not ${ABI_VERSION}`)
    // An fd of its own: closing it leaves the owner's (the same process, when
    // Jest runs in band) working. The inherited one is closed on exec from now.
    const fd = native.kpcDevDup(shared.fd)
    if (fd < 0) throw lost(errnoName(fd))
    if (shared.pid !== process.pid) native.kpcDevInherit(shared.fd, 0)
    const c = new Collector(shared.path, fd, limits)
    const size = BigInt(shared.areaBytes)
    const addr = u64Out()
    let r = native.kpcDevMap(fd, size, bytes(addr))
    if (r < 0) {
      c.close()
      throw lost(`its counter area does not map: ${errnoName(r)}`)
    }
    c.#res.area = first(addr)
    c.#res.areaBytes = size
    const header = new BigUint64Array(AreaHeader.SIZE / 8)
    r = native.kpcAreaCheck(c.#res.area, size)
    if (r >= 0) r = native.kpcAreaHeader(c.#res.area, bytes(header))
    if (r < 0) {
      c.close()
      throw lost(`its counter area is not laid out as ABI ${ABI_VERSION} says`)
    }
    const at = (field: number) => num(header[field / 8] ?? 0n)
    c.#init = {
      maxProbes: at(AreaHeader.max_probes),
      maxSlots: at(AreaHeader.max_slots),
      edgeBits: at(AreaHeader.edge_bits),
      traceEntries: at(AreaHeader.trace_entries),
      callers: false,
    }
    c.#nrProbes = at(AreaHeader.nr_probes)
    return c
  }

  /** The sizes given to init(), undefined before. */
  get sizes(): Readonly<Required<InitOptions>> | undefined {
    return this.#init
  }

  /** Probes added so far (indices 0 .. probeCount - 1). */
  get probeCount(): number {
    return this.#nrProbes
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Sizes the collector (once) and maps its counter area. */
  init(options: InitOptions): void {
    this.#open('init')
    const o: Required<InitOptions> = {
      maxProbes: options.maxProbes,
      maxSlots: options.maxSlots ?? DEFAULT_SLOTS,
      edgeBits: options.edgeBits ?? 0,
      traceEntries: options.traceEntries ?? 0,
      callers: options.callers ?? false,
    }
    for (const [k, v] of Object.entries(o)) if (typeof v === 'number') nonNegativeInt(`init: ${k}`, v)
    if (this.#init) throw new KprobecovError('EBUSY', 'init: this collector is initialised already: open another collector for other sizes')
    const limits = this.limits
    const areaBytes = u64Out()
    let ret = native.kpcDevInit(
      this.#res.fd,
      BigInt(o.maxProbes),
      BigInt(o.maxSlots),
      BigInt(o.edgeBits),
      BigInt(o.traceEntries),
      o.callers ? KPROBECOV_INIT_CALLERS : 0n,
      bytes(areaBytes),
    )
    if (ret < 0) {
      const sizes = `${o.maxProbes} probes x ${o.maxSlots} slots`
      throw this.#error('init', ret, {
        EINVAL: `init: maxProbes and maxSlots must be 1 .. max_probes (${limits.maxProbes}) / max_slots (${limits.maxSlots}) and edgeBits <= ${MAX_EDGE_BITS}: ask for less, or load kprobecov with larger max_probes / max_slots`,
        E2BIG: `init: the counter area for ${sizes} exceeds max_area_mb (${Math.floor(limits.maxAreaBytes / 2 ** 20)} MB): use fewer slots or probes, or load kprobecov with a larger max_area_mb`,
        EDQUOT: `init: a collector of ${sizes} would take your user past kprobecov's max_user_mb: close other collectors (test runs, kprobecov commands) of your user, use fewer slots or probes, or load kprobecov with a larger max_user_mb`,
        ENOSPC: `init: a collector of ${sizes} would take all collectors past kprobecov's max_total_mb: wait for other users' runs to end, use fewer slots or probes, or load kprobecov with a larger max_total_mb`,
        ENOMEM: `init: the kernel has no memory for the counter area of ${sizes}: use fewer slots or probes`,
      })
    }
    const size = first(areaBytes)
    const addr = u64Out()
    ret = native.kpcDevMap(this.#res.fd, size, bytes(addr))
    if (ret < 0) throw this.#error('mmap', ret, {})
    this.#res.area = first(addr)
    this.#res.areaBytes = size
    ret = native.kpcAreaCheck(this.#res.area, size)
    if (ret < 0) {
      throw new KprobecovError('EABI', `the counter area of ${this.path} is not laid out as ABI ${ABI_VERSION} says (${errnoName(ret)}): load the kprobecov.ko of the same kprobecov version`)
    }
    this.#init = o
  }

  /**
   * Appends probes (registered disarmed: arm() them). Probes of one function
   * should be adjacent. Probes that fail keep their index; see error[].
   */
  addProbes(specs: readonly ProbeSpec[]): AddProbesResult {
    const init = this.#ready('addProbes')
    const result = newAddResult(this.#nrProbes, specs.length)
    for (let start = 0; start < specs.length; start += MAX_BATCH) {
      const batch = encodeBatch(specs, start, Math.min(MAX_BATCH, specs.length - start))
      const ret = native.kpcDevAddProbes(this.#res.fd, batch.buf, BigInt(batch.count), bytes(batch.out))
      this.#addedBatch(init, result, batch, ret)
    }
    return result
  }

  /**
   * addProbes off the main thread (libuv's pool), through an fd of its own:
   * a close() meanwhile closes this collector's fd and stops the batches
   * left; the kernel removes the probes when the last fd goes.
   */
  async addProbesAsync(specs: readonly ProbeSpec[]): Promise<AddProbesResult> {
    const init = this.#ready('addProbes')
    const result = newAddResult(this.#nrProbes, specs.length)
    const batches: Batch[] = []
    for (let start = 0; start < specs.length; start += MAX_BATCH) {
      batches.push(encodeBatch(specs, start, Math.min(MAX_BATCH, specs.length - start)))
    }
    await this.#withOwnFd('addProbes', async (fd) => {
      for (const batch of batches) {
        this.#ready('addProbes')
        // batch.buf and batch.out stay referenced until the call settles.
        const ret = await native.kpcDevAddProbesInPool(fd, batch.buf, BigInt(batch.count), bytes(batch.out))
        this.#addedBatch(init, result, batch, ret)
      }
    })
    return result
  }

  #addedBatch(init: Required<InitOptions>, result: AddProbesResult, batch: Batch, ret: number): void {
    const { buf, out, start, count } = batch
    if (ret < 0) {
      throw this.#error('addProbes', ret, {
        ENOSPC: `addProbes: ${count} more probes exceed maxProbes (${init.maxProbes}; ${this.#nrProbes} added): init a collector with a larger maxProbes`,
        EINVAL: `addProbes: the kernel refused the batch of ${count} probes (a bad kind, a function probe with an offset, or an empty name)`,
        EPERM: `addProbes: planting probes needs CAP_PERFMON or CAP_SYS_ADMIN when the device was opened (run as root, or delegate planting to the device's group: sudo npx kprobecov module load --reload --group GROUP --param delegate_probes=1), and a probe address needs CAP_SYSLOG (leave address out: the kernel resolves the symbol)`,
      })
    }
    const dv = new DataView(buf.buffer)
    const firstIndex = num(out[AddProbes.first_index / 8] ?? 0n)
    if (start === 0) result.firstIndex = firstIndex
    this.#nrProbes = firstIndex + count
    result.count += count
    result.registered += num(out[AddProbes.registered / 8] ?? 0n)
    result.pending += num(out[AddProbes.pending / 8] ?? 0n)
    result.failed += num(out[AddProbes.failed / 8] ?? 0n)
    for (let i = 0; i < count; i++) {
      result.error[start + i] = dv.getInt32(i * Probe.SIZE + Probe.error, true)
      result.state[start + i] = dv.getUint32(i * Probe.SIZE + Probe.state, true)
    }
  }

  /** Runs `fn` with a dup of this collector's fd, closed after. */
  async #withOwnFd<T>(op: string, fn: (fd: number) => Promise<T>): Promise<T> {
    const fd = native.kpcDevDup(this.#res.fd)
    if (fd < 0) throw this.#error(op, fd, {})
    try {
      return await fn(fd)
    } finally {
      native.kpcDevClose(fd)
    }
  }

  /** Starts counting on the selected probes; returns how many changed. */
  arm(selection: ProbeSelection = 'all'): number {
    return this.#select('arm', selection)
  }

  /** arm off the main thread (libuv's pool), through an fd of its own (see addProbesAsync). */
  async armAsync(selection: ProbeSelection = 'all'): Promise<number> {
    const { how, group, from, count } = this.#selection('arm', selection)
    const changed = u64Out()
    const ret = await this.#withOwnFd('arm', (fd) => native.kpcDevArmInPool(fd, how, group, BigInt(from), BigInt(count), bytes(changed)))
    return this.#selected('arm', ret, from, count, changed)
  }

  /** Stops counting on the selected probes; returns how many changed. */
  disarm(selection: ProbeSelection = 'all'): number {
    return this.#select('disarm', selection)
  }

  #select(op: 'arm' | 'disarm', selection: ProbeSelection): number {
    const { how, group, from, count } = this.#selection(op, selection)
    const changed = u64Out()
    const fn = op === 'arm' ? native.kpcDevArm : native.kpcDevDisarm
    const ret = fn(this.#res.fd, how, group, BigInt(from), BigInt(count), bytes(changed))
    return this.#selected(op, ret, from, count, changed)
  }

  #selection(op: 'arm' | 'disarm', selection: ProbeSelection): { how: number; group: number; from: number; count: number } {
    this.#ready(op)
    let how: number = Select.ALL
    let group = 0
    let from = 0
    let count = 0
    if (selection !== 'all') {
      if ('group' in selection) {
        how = Select.GROUP
        group = selection.group
      } else {
        how = Select.RANGE
        from = selection.first
        count = selection.count
        nonNegativeInt(`${op}: first`, from)
        nonNegativeInt(`${op}: count`, count)
      }
    }
    return { how, group, from, count }
  }

  #selected(op: 'arm' | 'disarm', ret: number, from: number, count: number, changed: BigUint64Array): number {
    if (ret < 0) {
      throw this.#error(op, ret, {
        EINVAL: `${op}: probes ${from} .. ${from + count - 1} are not all among the ${this.#nrProbes} added`,
        EPERM: `${op}: arming and disarming probes needs CAP_PERFMON or CAP_SYS_ADMIN when the device was opened (run as root, or delegate planting to the device's group: sudo npx kprobecov module load --reload --group GROUP --param delegate_probes=1)`,
      })
    }
    return num(first(changed))
  }

  /** Starts counting `pid`'s hits (scope) in a new slot; returns the slot. */
  attach(options: AttachOptions): number {
    const init = this.#ready('attach')
    const pid = options.pid ?? 0
    nonNegativeInt('attach: pid', pid)
    const scope = SCOPE_OF[options.scope]
    if (scope === undefined) throw new KprobecovError('EINVAL', `attach: scope must be thread, process, tree or global, not ${String(options.scope)}`)
    if (typeof options.sampleId !== 'bigint') throw new KprobecovError('EINVAL', 'attach: sampleId must be a bigint')
    const who = options.scope === 'global' ? 'the global slot' : pid === 0 ? 'this process' : `${options.scope === 'thread' ? 'thread' : 'process'} ${pid}`
    const slot = u64Out()
    const ret = native.kpcDevAttach(this.#res.fd, BigInt(pid), scope, BigInt.asUintN(64, options.sampleId), bytes(slot))
    if (ret < 0) {
      throw this.#error('attach', ret, {
        ESRCH: `attach: there is no ${options.scope === 'thread' ? 'thread' : 'process'} ${pid} (it has exited?)`,
        EPERM:
          options.scope === 'global'
            ? 'attach: a global slot needs CAP_SYS_ADMIN: run as root'
            : `attach: ${who} belongs to another user or group, or is not dumpable (a set-id program): attaching to it needs CAP_SYS_PTRACE (run as root)`,
        EBUSY: `attach: ${who} is attached in this collector already: detach() its slot first`,
        ENOSPC: `attach: all ${init.maxSlots} slots are in use, or max_tasks (${this.limits.maxTasks}) is reached: release() finished slots, or init with more maxSlots`,
        EINVAL: `attach: a global slot takes no pid`,
      })
    }
    return num(first(slot))
  }

  /** Stops counting in a slot; its counters stay readable. */
  detach(slot: number): void {
    this.#slotOp('detach', native.kpcDevDetach, slot, `detach: slot ${slot} is not attached`)
  }

  /** Zeroes a slot's counters and stats ('all': every slot and the collector-wide bitmaps). */
  reset(slot: number | 'all'): void {
    this.#slotOp('reset', native.kpcDevReset, slot, `reset: slot ${slot} is not in use`)
  }

  /** Detaches if needed, zeroes and frees a slot for reuse. */
  release(slot: number): void {
    this.#slotOp('release', native.kpcDevRelease, slot, `release: slot ${slot} is free already`)
  }

  #slotOp(op: string, fn: (fd: number, slot: bigint) => number, slot: number | 'all', enoent: string): void {
    const init = this.#ready(op)
    if (slot !== 'all') nonNegativeInt(`${op}: slot`, slot)
    const ret = fn(this.#res.fd, slot === 'all' ? ALL_SLOTS : BigInt(slot))
    if (ret < 0) throw this.#error(op, ret, { ENOENT: enoent, EINVAL: `${op}: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
  }

  /**
   * The hit counters of every probe added so far in `slot` (index = probe
   * index), in one native call; `into` (at least probeCount long) saves the
   * allocation.
   */
  readCounters(slot: number, into?: BigUint64Array): BigUint64Array {
    const init = this.#ready('readCounters')
    nonNegativeInt('readCounters: slot', slot)
    const n = this.#nrProbes
    if (into !== undefined && into.length < n) {
      throw new KprobecovError('EINVAL', `readCounters: the array holds ${into.length} counters, ${n} probes were added`)
    }
    const out = into ?? new BigUint64Array(n)
    if (n === 0) return out
    const ret = native.kpcAreaReadSlot(this.#res.area, BigInt(slot), bytes(out), BigInt(n))
    if (ret < 0) throw this.#error('readCounters', ret, { EINVAL: `readCounters: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
    return into === undefined ? out : out.subarray(0, n)
  }

  /** Only the non-zero counters of `slot`: probe indices and their counts, in probe order. */
  readNonZero(slot: number): { index: Uint32Array; counts: BigUint64Array } {
    const init = this.#ready('readNonZero')
    nonNegativeInt('readNonZero: slot', slot)
    const n = this.#nrProbes
    const index = new Uint32Array(Math.max(n, 1))
    const counts = new BigUint64Array(Math.max(n, 1))
    const ret = native.kpcAreaReadSlotNonzero(this.#res.area, BigInt(slot), bytes(index), bytes(counts), BigInt(n))
    if (ret < 0) throw this.#error('readNonZero', ret, { EINVAL: `readNonZero: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
    const k = Math.min(ret, n)
    return { index: index.subarray(0, k), counts: counts.subarray(0, k) }
  }

  /** detach (if attached) + readCounters + release: the end of one test file's sample. */
  collect(slot: number, into?: BigUint64Array): BigUint64Array {
    nonNegativeInt('collect: slot', slot)
    const init = this.#ready('collect')
    const ret = native.kpcDevDetach(this.#res.fd, BigInt(slot))
    if (ret < 0 && errnoName(ret) !== 'ENOENT') {
      throw this.#error('collect', ret, { EINVAL: `collect: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
    }
    const counters = this.readCounters(slot, into)
    this.release(slot)
    return counters
  }

  /**
   * The collector-wide "ever hit" bitmap: bit i of word i >> 6 is set once
   * probe i counted in any slot.
   */
  readHits(): BigUint64Array {
    this.#ready('readHits')
    const out = new BigUint64Array(Math.ceil(this.#nrProbes / 64))
    if (out.length === 0) return out
    const ret = native.kpcAreaReadHits(this.#res.area, bytes(out), BigInt(out.length))
    if (ret < 0) throw this.#error('readHits', ret, {})
    return out
  }

  slotStats(slot: number): SlotStats {
    const init = this.#ready('slotStats')
    nonNegativeInt('slotStats: slot', slot)
    const s = new BigUint64Array(SlotStatsLayout.SIZE / 8)
    const ret = native.kpcAreaReadSlotStats(this.#res.area, BigInt(slot), 1n, bytes(s))
    if (ret < 0) throw this.#error('slotStats', ret, { EINVAL: `slotStats: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
    const at = (off: number): bigint => s[off / 8] ?? 0n
    const state = Number(at(SlotStatsLayout.state))
    return {
      state: state === SlotState.ATTACHED ? 'attached' : state === SlotState.DETACHED ? 'detached' : 'free',
      sampleId: at(SlotStatsLayout.sample_id),
      scope: SCOPE_NAME[Number(at(SlotStatsLayout.scope))],
      tasks: num(at(SlotStatsLayout.tasks)),
      newCoverage: num(at(SlotStatsLayout.new_coverage)),
      edges: num(at(SlotStatsLayout.edges)),
      lostTasks: num(at(SlotStatsLayout.lost_tasks)),
    }
  }

  /** States of probes [first, first + count) (default: all added). */
  probeStatus(from = 0, count = this.#nrProbes - from): ProbeStatuses {
    this.#ready('probeStatus')
    nonNegativeInt('probeStatus: first', from)
    nonNegativeInt('probeStatus: count', count)
    const raw = new Uint32Array(count * (PROBE_STATUS_SIZE / 4))
    const state = new Uint32Array(count)
    const error = new Int32Array(count)
    if (count === 0) return { state, error }
    const ret = native.kpcDevProbeStatus(this.#res.fd, BigInt(from), BigInt(count), bytes(raw))
    if (ret < 0) throw this.#error('probeStatus', ret, { EINVAL: `probeStatus: probes ${from} .. ${from + count - 1} are not all among the ${this.#nrProbes} added` })
    for (let i = 0; i < count; i++) {
      state[i] = raw[2 * i] ?? 0
      error[i] = (raw[2 * i + 1] ?? 0) | 0
    }
    return { state, error }
  }

  /** The first never-hit probe at or after `from` of the given kinds, after `skip` of them. */
  nextUnhit(options: NextUnhitOptions = {}): number | undefined {
    this.#ready('nextUnhit')
    const from = options.from ?? 0
    const skip = options.skip ?? 0
    nonNegativeInt('nextUnhit: from', from)
    nonNegativeInt('nextUnhit: skip', skip)
    let kinds = 0n
    for (const k of options.kinds ?? []) kinds |= 1n << BigInt(KIND_OF[k])
    const index = u64Out()
    const ret = native.kpcDevNextUnhit(this.#res.fd, BigInt(from), kinds, BigInt(skip), bytes(index))
    if (ret < 0) {
      if (errnoName(ret) === 'ENOENT') return undefined
      throw this.#error('nextUnhit', ret, {})
    }
    return num(first(index))
  }

  /** Distinct callers of a function probe and their call counts. */
  callers(probe: number): Callers {
    this.#ready('callers')
    nonNegativeInt('callers: probe', probe)
    let capacity = Math.max(this.limits.maxCallers, 1)
    for (;;) {
      const buf = new Uint8Array(capacity * Caller.SIZE)
      const count = u64Out()
      const overflow = u64Out()
      const ret = native.kpcDevCallers(this.#res.fd, BigInt(probe), buf, BigInt(capacity), bytes(count), bytes(overflow))
      if (ret < 0) {
        throw this.#error('callers', ret, {
          EINVAL: `callers: probe ${probe} is not a function probe (or not among the ${this.#nrProbes} added)`,
        })
      }
      const n = num(first(count))
      if (n > capacity) {
        capacity = n
        continue
      }
      const dv = new DataView(buf.buffer)
      const callers: CallerEntry[] = []
      for (let i = 0; i < n; i++) {
        const at = i * Caller.SIZE
        const sym = buf.subarray(at + Caller.symbol, at + Caller.symbol + SYMBOL_LEN)
        const end = sym.indexOf(0)
        callers.push({
          address: dv.getBigUint64(at + Caller.address, true),
          calls: dv.getBigUint64(at + Caller.calls, true),
          symbol: utf8d.decode(end < 0 ? sym : sym.subarray(0, end)),
        })
      }
      return { callers, count: n, overflow: first(overflow) }
    }
  }

  /** Records every probe hit of thread `tid` (0: the calling thread), in order, from the start of the trace. */
  traceStart(tid = 0): void {
    const init = this.#ready('traceStart')
    nonNegativeInt('traceStart: tid', tid)
    const noTrace = 'traceStart: this collector has no trace: init it with traceEntries > 0'
    if (init.traceEntries === 0) throw new KprobecovError('EINVAL', noTrace)
    let ret = native.kpcAreaTraceReset(this.#res.area)
    if (ret < 0) throw this.#error('traceStart', ret, {})
    ret = native.kpcDevTraceStart(this.#res.fd, BigInt(tid))
    if (ret < 0) {
      throw this.#error('traceStart', ret, {
        EINVAL: noTrace,
        EBUSY: 'traceStart: a thread is traced already: traceStop() first',
        ESRCH: `traceStart: there is no thread ${tid}`,
        EPERM: `traceStart: thread ${tid} belongs to another user or group, or is not dumpable: tracing it needs CAP_SYS_PTRACE (run as root)`,
      })
    }
  }

  traceStop(): void {
    this.#ready('traceStop')
    const ret = native.kpcDevTraceStop(this.#res.fd)
    if (ret < 0) throw this.#error('traceStop', ret, { ENOENT: 'traceStop: no trace is running' })
  }

  /** The trace recorded since traceStart(). */
  readTrace(): Trace {
    const init = this.#ready('readTrace')
    if (init.traceEntries === 0) throw new KprobecovError('EINVAL', 'readTrace: this collector has no trace: init it with traceEntries > 0')
    const out = new BigUint64Array(init.traceEntries)
    const ret = native.kpcAreaReadTrace(this.#res.area, bytes(out), BigInt(out.length))
    if (ret < 0) throw this.#error('readTrace', ret, {})
    const probes = new Uint32Array(Math.min(ret, out.length))
    for (let i = 0; i < probes.length; i++) probes[i] = Number(out[i] ?? 0n)
    return { written: ret, probes }
  }

  /** The edge counters of a slot (1 << edgeBits buckets). */
  readEdges(slot: number): Uint32Array {
    const init = this.#ready('readEdges')
    nonNegativeInt('readEdges: slot', slot)
    if (init.edgeBits === 0) throw new KprobecovError('EINVAL', 'readEdges: this collector counts no edges: init it with edgeBits > 0')
    const out = new Uint32Array(2 ** init.edgeBits)
    const ret = native.kpcAreaReadEdges(this.#res.area, BigInt(slot), bytes(out), BigInt(out.length))
    if (ret < 0) throw this.#error('readEdges', ret, { EINVAL: `readEdges: slot ${slot} is out of range (maxSlots ${init.maxSlots})` })
    return out
  }

  /**
   * Resolves true as soon as any slot hit a probe (or edge) new to the
   * collector since the last call, false after timeoutMs without one (or
   * when the collector is closed meanwhile).
   *
   * How it waits: it reads the area's header (new_events against
   * new_events_seen) every intervalMs with one native call that makes no
   * system call, on timers of the event loop. Neither poll() on a worker
   * thread nor on the main thread: a system call of this process would run
   * kernel code while the process is attached (scope 'process' counts every
   * thread), and a blocked poll() would keep the collector alive after
   * close(). Latency: up to intervalMs.
   */
  async waitForNewCoverage(timeoutMs: number, intervalMs = 10): Promise<boolean> {
    this.#ready('waitForNewCoverage')
    const deadline = performance.now() + Math.max(0, timeoutMs)
    const header = new BigUint64Array(AreaHeader.SIZE / 8)
    for (;;) {
      if (this.#closed) return false
      const ret = native.kpcAreaHeader(this.#res.area, bytes(header))
      if (ret < 0) throw this.#error('waitForNewCoverage', ret, {})
      if (header[AreaHeader.new_events / 8] !== header[AreaHeader.new_events_seen / 8]) {
        native.kpcAreaAck(this.#res.area, bytes(u64Out()))
        return true
      }
      const left = deadline - performance.now()
      if (left <= 0) return false
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)))
    }
  }

  /** Unmaps the area and closes the fd: the kernel removes every probe of the collector. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    finalizer.unregister(this)
    if (this.#res.area !== 0n) native.kpcDevUnmap(this.#res.area, this.#res.areaBytes)
    this.#res.area = 0n
    native.kpcDevClose(this.#res.fd)
  }

  [Symbol.dispose](): void {
    this.close()
  }

  #open(op: string): void {
    if (this.#closed) throw new KprobecovError('ECLOSED', `${op}: the collector is closed: open a new one`)
  }

  #ready(op: string): Required<InitOptions> {
    this.#open(op)
    if (!this.#init) throw new KprobecovError('EBADFD', `${op}: the collector is not initialised: call init() first`)
    return this.#init
  }

  #error(op: string, ret: number, messages: Partial<Record<string, string>>): KprobecovError {
    const name = errnoName(ret)
    const message =
      messages[name] ??
      (name === 'EBADFD'
        ? `${op}: the collector is not initialised: call init() first`
        : name === 'ENOTTY'
          ? `${op}: ${this.path} does not know this request: load the kprobecov.ko of the same kprobecov version`
          : `${op} failed: ${errnoMessage(ret)}`)
    return errnoError(ret, message)
  }
}
