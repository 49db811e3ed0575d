/**
 * Kernel reports in a guest's kernel log: what makes `kprobecov vm` fail a
 * run whose command passed. The first report is a line naming a warning,
 * BUG, oops, lockdep, KASAN or UBSAN report, or a call trace. Not a report:
 * the call trace an allocation failure prints (warn_alloc's "page allocation
 * failure", "vmalloc error", percpu's "allocation failed"), up to its
 * "</TASK>" (a warning inside it still is one); tainting by an out-of-tree
 * or unsigned module. The OOM killer is told apart: it means --mem is too
 * small, not a kernel bug. The repository's scripts/kernel-reports.sh calls this.
 */
const SPLAT = /WARNING:|BUG:|Oops|general protection|possible circular locking|inconsistent lock state|possible recursive locking|suspicious RCU usage|sleeping function called from invalid context|KASAN:|UBSAN:|kernel BUG|Call Trace:/
const ALLOC = /page allocation failure:|vmalloc error:|percpu: allocation failed/

export interface KernelReport {
  /** 1-based line number in the log. */
  line: number
  /** The report's lines, from its first (at most `max`). */
  text: string[]
}

export function firstReport(log: string, max = 40): KernelReport | undefined {
  const lines = log.split('\n')
  let dump = false
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    if (ALLOC.test(l)) {
      dump = true
      continue
    }
    if (dump && l.includes('</TASK>')) dump = false
    if (dump && l.includes('Call Trace:')) continue
    if (SPLAT.test(l)) return { line: i + 1, text: lines.slice(i, i + max).filter((x, j) => j === 0 || x !== '') }
  }
  return undefined
}

/** The process the OOM killer ended, when it did. */
export function oomKilled(log: string): string | undefined {
  const m = /Out of memory: Killed process \d+ \(([^)]*)\)/.exec(log)
  return m?.[1]
}
