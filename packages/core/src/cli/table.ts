/** Plain-text tables for the terminal: columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly number[] = []): string {
  const all = [header, ...rows]
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)))
  const right = new Set(rightAligned)
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()
  return `${all.map(line).join('\n')}\n`
}

export const percent = (part: number, whole: number): string =>
  whole === 0 ? '-' : `${((part / whole) * 100).toFixed(1)}%`
