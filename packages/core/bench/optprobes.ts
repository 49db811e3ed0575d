/**
 * How many of the probes kprobecov plans could x86's kprobes optimise (turn
 * the int3 into a 5-byte jump), as planned and if the planner chose the best
 * instruction of each block. Host only; reads the .ko, loads nothing.
 *
 *   node packages/core/bench/optprobes.ts [--json] [--rethunk] [--list] MODULE.ko
 *
 * Plans MODULE.ko at branch granularity as kprobecov does (loadDebugInfo,
 * planProbes), disassembles it with binutils' `objdump -d -r -w` (x86 AT&T
 * text: addresses, raw bytes, jump targets, relocations) and checks every
 * probe against the rules of Linux 6.1 (arch/x86/kernel/kprobes/opt.c,
 * core.c; kernel/kprobes.c). A probe at address A in function F (F's extent
 * is what kallsyms gives for a module: from its symbol to the next symbol of
 * its section) is optimised only when all hold:
 *
 *  R0 ftrace:     A is not F's fentry site. kprobecov plants those through an
 *                 ftrace_ops, not kprobes (counted apart, neither way).
 *  R1 extable:    no instruction of F has an exception-table entry
 *                 (can_optimize: fixup code may jump into F).
 *  R2 indirect:   F has no indirect jump: `jmp *x` (ff /4, ff /5), far jump
 *                 (ea), or a jump to an __x86_indirect_thunk_* (retpoline
 *                 builds; can_optimize → insn_is_indirect_jump).
 *  R3 end:        at least 5 bytes from A to F's end.
 *  R4 jump-in:    no direct jump/jcc/loop/jcxz of F targets [A+1, A+5]
 *                 (insn_jump_into_range: both ends inclusive).
 *  R5 boost:      the whole instructions covering [A, A+5) are copyable and
 *                 boostable (copy_optimized_instructions → __copy_instruction,
 *                 can_boost): no int3, no jcc/jmp/call/loop, no Grp2 shifts
 *                 (c0, c1, d0-d3), no Grp3 (f6, f7), no Grp4 (fe), of Grp5
 *                 (ff) only indirect jmp, no hlt, no x87, no CS or
 *                 address-size prefix on a one-byte opcode, two-byte opcodes
 *                 by twobyte_is_boostable, three-byte and VEX/EVEX opcodes not.
 *  R6 reserved:   those instructions overlap no ftrace site, jump label or
 *                 static call site (…_text_reserved; every site taken as 5
 *                 bytes long, jump labels may be 2). The SMP-lock check of
 *                 alternatives_text_reserved applies only on a one-CPU boot
 *                 and is not counted.
 *
 * Not checked (hold for kprobecov): the kprobe has no post_handler, is not
 * on ftrace, debug.kprobes-optimization is 1, CONFIG_OPTPROBES=y (Debian's).
 * Returns: a retpoline/rethunk build ends functions with `jmp
 * __x86_return_thunk`. Debian's 6.1 links that thunk inside
 * [__indirect_thunk_start, __indirect_thunk_end), so where the CPU's
 * mitigation keeps the jump (else the loader patches in `ret`), R2 refuses
 * every function that returns through it: `--rethunk` counts that case.
 *
 * "Best in block": the probe's block runs from its planned offset until the
 * first instruction that ends straight-line flow (jump, jcc, ret, call, ud2,
 * int3: included, since it runs on every entry) or until the next jump
 * target or planned probe (excluded: a probe there would count other
 * entries too), including targets of jumps from other sections (foo.cold
 * back into foo), which the kernel's R4 does not look at. Any instruction of that run that passes R1-R6 counts every
 * entry to the block exactly as the block's first one does.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { loadDebugInfo } from '../src/native/debuginfo.ts'
import { planProbes } from '../src/plan/plan.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const args = process.argv.slice(2)
const asJson = args.includes('--json')
const rethunkIndirect = args.includes('--rethunk')
const list = args.includes('--list') // one line a kprobe: site, verdict
const ko = args.find((a) => !a.startsWith('--'))
if (ko === undefined) {
  console.error('usage: optprobes.ts [--json] [--rethunk] [--list] MODULE.ko (a module with debug info)')
  process.exit(2)
}

interface Insn {
  addr: number
  bytes: number[]
  text: string
  /** Direct branch target (section offset), from objdump's operand. */
  target?: number
  /** Symbol of a relocation inside the instruction (e.g. __fentry__). */
  reloc?: string
}
interface Fn { section: string; start: number; end: number; insns: Insn[] }

// ---- objdump: functions of every code section -----------------------------
const dump = execFileSync('objdump', ['-d', '-r', '-w', ko], { maxBuffer: 1 << 30, encoding: 'utf8' })
const fns = new Map<string, Fn>() // first symbol of a name wins, as kprobes' lookup does
const bySection = new Map<string, Fn[]>()
/** Section → offsets that jumps from other sections land on (never seen by R4). */
const crossTargets = new Map<string, Set<number>>()
let section = ''
let cur: Fn | undefined
for (const line of dump.split('\n')) {
  let m = /^Disassembly of section (\S+):/.exec(line)
  if (m) { section = m[1]!; cur = undefined; continue }
  m = /^([0-9a-f]+) <(.+)>:$/.exec(line)
  if (m) {
    cur = { section, start: parseInt(m[1]!, 16), end: 0, insns: [] }
    if (!fns.has(m[2]!)) fns.set(m[2]!, cur)
    bySection.set(section, [...(bySection.get(section) ?? []), cur])
    continue
  }
  m = /^\s+([0-9a-f]+):\t([0-9a-f ]+)\t([^\t]*)(?:\t\s*[0-9a-f]+: R_X86_64_\w+\t(\S+?)([-+]0x[0-9a-f]+)?)?$/.exec(line)
  if (m && cur) {
    const insn: Insn = { addr: parseInt(m[1]!, 16), bytes: m[2]!.trim().split(' ').map((b) => parseInt(b, 16)), text: m[3]!.trim() }
    const t = /^(?:j\w+|loop\w*|jrcxz|jecxz|call)\s+([0-9a-f]+) </.exec(insn.text)
    if (t) insn.target = parseInt(t[1]!, 16)
    if (m[4]) insn.reloc = m[4]
    // A jump to another section (foo.cold back into foo) is relocated against
    // the section: rel32 is the instruction's last 4 bytes, so target = addend + 4.
    if (t && m[4]?.startsWith('.') && !insn.text.startsWith('call')) {
      const target = parseInt(m[5] ?? '0', 16) + 4
      crossTargets.set(m[4], (crossTargets.get(m[4]) ?? new Set()).add(target))
    }
    cur.insns.push(insn)
    continue
  }
  // A relocation on its own line (objdump -w puts most inline; wide prefixes may not).
  m = /^\s+[0-9a-f]+: R_X86_64_\w+\t(\S+?)(?:[-+]0x[0-9a-f]+)?$/.exec(line)
  if (m && cur && cur.insns.length) cur.insns[cur.insns.length - 1]!.reloc ??= m[1]!
}
// Aliases (init_module and kvstore_init) share one header: name every symbol.
const byAddr = new Map<string, Fn>()
for (const [sec, list] of bySection) for (const f of list) byAddr.set(`${sec}:${f.start}`, f)
for (const line of execFileSync('objdump', ['-t', ko], { maxBuffer: 1 << 30, encoding: 'utf8' }).split('\n')) {
  const m = /^([0-9a-f]+) .{6}F (\S+)\t[0-9a-f]+ (\S+)$/.exec(line)
  const f = m && byAddr.get(`${m[2]}:${parseInt(m[1]!, 16)}`)
  if (f && !fns.has(m[3]!)) fns.set(m[3]!, f)
}
for (const list of bySection.values()) {
  list.sort((a, b) => a.start - b.start)
  list.forEach((f, i) => {
    const last = f.insns[f.insns.length - 1]
    f.end = list[i + 1]?.start ?? (last ? last.addr + last.bytes.length : f.start)
  })
}

// ---- sites from relocation sections: section → sorted offsets ------------
function relocSites(sec: string, stride: number): Map<string, number[]> {
  const out = new Map<string, number[]>()
  let text = ''
  try { text = execFileSync('objdump', ['-r', '-j', sec, ko!], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) } catch { return out }
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) R_X86_64_\w+\s+(\S+?)(?:\+0x([0-9a-f]+))?$/.exec(line)
    if (!m || parseInt(m[1]!, 16) % stride !== 0) continue
    let [s, off] = [m[2]!, m[3] ? parseInt(m[3], 16) : 0]
    const f = fns.get(s) // a symbol rather than a section
    if (f) { off += f.start; s = f.section }
    out.set(s, [...(out.get(s) ?? []), off])
  }
  return out
}
const extable = relocSites('__ex_table', 12) // {insn, fixup, data}: insn at 0
const mcount = relocSites('__mcount_loc', 8)
const jumpLabels = relocSites('__jump_table', 16) // {code, target, key}: code at 0
const staticCalls = relocSites('.static_call_sites', 8) // {addr, key}: addr at 0
const has = (sites: Map<string, number[]>, sec: string, lo: number, hi: number) =>
  (sites.get(sec) ?? []).some((x) => x >= lo && x < hi)

// ---- the rules ------------------------------------------------------------
const TWOBYTE_BOOSTABLE = [ // arch/x86/kernel/kprobes/core.c twobyte_is_boostable, rows 0x00..0xf0, columns 0..f
  '0011001011000000',
  '0000000000000001',
  '1111000000000000',
  '0100000000000000',
  '1111111111111111',
  '0000000000000000',
  '1111111111110011',
  '0000111100000011',
  '0000000000000000',
  '1111111111111111',
  '1101110011011101',
  '1111111100011111',
  '1100000011111111',
  '0111010011011101',
  '0110010011011101',
  '0111010011101110',
]
const twoByteBoostable = (op: number) => TWOBYTE_BOOSTABLE[op >> 4]![op & 15] === '1'
const LEGACY = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3])

/** Why the kernel would not copy-and-boost this instruction, or undefined. */
function notBoostable(i: Insn): string | undefined {
  const b = i.bytes
  let p = 0
  const prefixes: number[] = []
  while (LEGACY.has(b[p]!)) prefixes.push(b[p++]!)
  if ((b[p]! & 0xf0) === 0x40) p++ // REX
  const op = b[p]!
  if (op === 0xc4 || op === 0xc5) return 'vex'
  if (op === 0x0f) {
    const op2 = b[p + 1]!
    if (op2 === 0x38 || op2 === 0x3a) return 'three-byte opcode'
    return twoByteBoostable(op2) ? undefined : `0f ${op2.toString(16)} (${mnemonic(i)})`
  }
  if (prefixes.includes(0x2e) || prefixes.includes(0x67)) return 'cs/addr-size prefix'
  const reg = (b[p + 1]! >> 3) & 7
  if (op === 0xcc) return 'int3'
  if (op === 0x62 || (op >= 0x70 && op <= 0x7f) || op === 0x9a || op === 0xc0 || op === 0xc1 ||
    (op >= 0xcc && op <= 0xce) || (op >= 0xd0 && op <= 0xd3) || op === 0xd6 || (op >= 0xd8 && op <= 0xdf) ||
    (op >= 0xe0 && op <= 0xe3) || op === 0xe8 || op === 0xe9 || op === 0xeb || (op >= 0xf0 && op <= 0xf4) ||
    op === 0xf6 || op === 0xf7 || op === 0xfe || (op === 0xff && reg !== 4)) return mnemonic(i)
  return undefined
}
const mnemonic = (i: Insn) => i.text.split(/\s+/)[0] ?? '?'

function isIndirectJump(i: Insn): boolean {
  const b = i.bytes
  let p = 0
  while (LEGACY.has(b[p]!)) p++
  if ((b[p]! & 0xf0) === 0x40) p++
  if (b[p] === 0xea) return true
  if (b[p] === 0xff && ((b[p + 1]! >> 3) & 6) === 4) return true
  const isJump = b[p] === 0xe9 || b[p] === 0xeb || (b[p] === 0x0f && (b[p + 1]! & 0xf0) === 0x80) || (b[p]! & 0xf0) === 0x70
  return isJump && i.reloc !== undefined && (i.reloc.startsWith('__x86_indirect_thunk_') ||
    (rethunkIndirect && i.reloc === '__x86_return_thunk'))
}
const endsFlow = (i: Insn) => /^(j\w+|ret\w*|call\w*|ud2|int3|loop\w*|jrcxz|jecxz)$/.test(mnemonic(i)) ||
  i.bytes.includes(0xcc) && i.bytes.length === 1
const returnsViaThunk = (f: Fn) => f.insns.some((i) => i.reloc === '__x86_return_thunk')

interface FnFacts { fn: Fn; refuse: string | undefined; targets: Set<number>; index: Map<number, number> }
const factsCache = new Map<Fn, FnFacts>()
function factsOf(fn: Fn): FnFacts {
  let f = factsCache.get(fn)
  if (f) return f
  const targets = new Set<number>()
  for (const i of fn.insns) if (i.target !== undefined && i.reloc === undefined && !i.text.startsWith('call')) targets.add(i.target)
  let refuse: string | undefined
  if (has(extable, fn.section, fn.start, fn.end)) refuse = 'R1 extable'
  else if (fn.insns.some(isIndirectJump)) refuse = 'R2 indirect jump'
  f = { fn, refuse, targets, index: new Map(fn.insns.map((i, k) => [i.addr, k])) }
  factsCache.set(fn, f)
  return f
}

/** The first rule the kernel would refuse a probe at section offset a for, or undefined. */
function refusal(ff: FnFacts, a: number): string | undefined {
  const { fn } = ff
  if (ff.refuse) return ff.refuse
  if (fn.end - a < 5) return 'R3 end of function'
  for (const t of ff.targets) if (t >= a + 1 && t <= a + 5) return 'R4 jump into window'
  let k = ff.index.get(a)
  if (k === undefined) return 'not an instruction boundary'
  let len = 0
  while (len < 5) {
    const i = fn.insns[k++]
    if (!i) return 'R3 end of function'
    const why = notBoostable(i)
    if (why) return `R5 not boostable: ${why}`
    len += i.bytes.length
  }
  if (has(mcount, fn.section, a - 4, a + len)) return 'R6 ftrace site'
  if (has(jumpLabels, fn.section, a - 4, a + len)) return 'R6 jump label'
  if (has(staticCalls, fn.section, a - 4, a + len)) return 'R6 static call'
  return undefined
}

// ---- plan and count -------------------------------------------------------
const di = loadDebugInfo(ko)
const plan = planProbes([{ target: { name: di.moduleName, granularity: 'branch' }, debugInfo: di }], { root })
const planned = new Map<string, number[]>() // symbol → sorted planned offsets
for (const p of plan.probes) planned.set(p.symbol, [...(planned.get(p.symbol) ?? []), p.offset])
for (const l of planned.values()) l.sort((a, b) => a - b)

const c = { probes: plan.probes.length, ftrace: 0, kprobes: 0, asPlanned: 0, bestInBlock: 0, missingCode: 0, rethunkFns: 0, pastCalls: 0 }
const whyPlanned = new Map<string, number>()
const whyNever = new Map<string, number>()
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
for (const p of plan.probes) {
  const fn = fns.get(p.symbol)
  if (!fn) { c.missingCode++; continue }
  const a = fn.start + p.offset
  if (has(mcount, fn.section, a, a + 1)) { c.ftrace++; continue }
  c.kprobes++
  const ff = factsOf(fn)
  const why = refusal(ff, a)
  if (list) console.log(`${p.symbol}+0x${p.offset.toString(16)} ${p.kind}: ${why ?? 'optimisable'}`)
  if (why === undefined) { c.asPlanned++; c.bestInBlock++; c.pastCalls++; continue }
  bump(whyPlanned, why.replace(/: .*/, ''))
  // Walk the block: from the probe to the first flow-ending instruction
  // (included), stopping before a jump target or the next planned probe.
  // With pastCalls the walk goes on after a call (assumes every call returns).
  const next = (planned.get(p.symbol) ?? []).find((o) => o > p.offset)
  const bestAt = (pastCalls: boolean): boolean => {
    for (let k = ff.index.get(a); k !== undefined && k < fn.insns.length; k++) {
      const i = fn.insns[k]!
      if (i.addr !== a && (ff.targets.has(i.addr) || crossTargets.get(fn.section)?.has(i.addr) ||
        (next !== undefined && i.addr >= fn.start + next))) return false
      if (i.addr !== a && refusal(ff, i.addr) === undefined) return true
      if (endsFlow(i) && !(pastCalls && mnemonic(i).startsWith('call'))) return false
    }
    return false
  }
  const best: string | undefined = bestAt(false) ? undefined : why
  if (best !== undefined && bestAt(true)) c.pastCalls++
  if (best === undefined) { c.bestInBlock++; c.pastCalls++ }
  else bump(whyNever, why.startsWith('R5') ? why : why.replace(/: .*/, ''))
}
const probedFns = new Set(plan.probes.map((p) => p.symbol))
for (const s of probedFns) { const f = fns.get(s); if (f && returnsViaThunk(f)) c.rethunkFns++ }

const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : '-')
const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1])
if (asJson) {
  console.log(JSON.stringify({ module: path.basename(ko), functions: plan.functions.length, ...c,
    rethunkIndirect, whyPlanned: Object.fromEntries(sorted(whyPlanned)), whyNever: Object.fromEntries(sorted(whyNever)) }, null, 1))
} else {
  console.log(`| ${path.basename(ko)} (branch granularity${rethunkIndirect ? ', return thunk counted as indirect jump' : ''}) | probes | share |`)
  console.log('|---|---:|---:|')
  console.log(`| planned | ${c.probes} | |`)
  console.log(`| entry probes through ftrace (not kprobes) | ${c.ftrace} | ${pct(c.ftrace, c.probes)} |`)
  console.log(`| kprobes | ${c.kprobes} | 100% |`)
  console.log(`| optimisable as planned | ${c.asPlanned} | ${pct(c.asPlanned, c.kprobes)} |`)
  console.log(`| optimisable at the best instruction of the block | ${c.bestInBlock} | ${pct(c.bestInBlock, c.kprobes)} |`)
  console.log(`| … if every call returned (walk on past calls) | ${c.pastCalls} | ${pct(c.pastCalls, c.kprobes)} |`)
  for (const [k, n] of sorted(whyPlanned)) console.log(`| as planned, refused by ${k} | ${n} | ${pct(n, c.kprobes)} |`)
  for (const [k, n] of sorted(whyNever).slice(0, 12)) console.log(`| never (best of block), ${k} | ${n} | ${pct(n, c.kprobes)} |`)
  if (c.missingCode) console.log(`| symbol not found in the disassembly | ${c.missingCode} | |`)
  console.log(`\nfunctions ${plan.functions.length}; probed symbols returning through __x86_return_thunk: ${c.rethunkFns} of ${probedFns.size}`)
}
