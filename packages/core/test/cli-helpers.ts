/**
 * Running the kprobecov CLI in this process (main() with captured output),
 * for the cli-*.test.ts files and the guest's cli.test.ts, and what those
 * tests fake for it or read back from it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CliIO, SystemSetup } from '../src/cli/io.ts'
import { main } from '../src/cli/main.ts'

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  cwd?: string
  system?: SystemSetup
  env?: Record<string, string | undefined>
  /** Sees stderr as it is written. */
  onStderr?: (text: string) => void
}

/** Runs `kprobecov ...argv`; the measured command's output is captured too. */
export async function cli(argv: string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: {
      write: (s: string) => {
        stderr += s
        options.onStderr?.(s)
      },
    },
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    system: options.system ?? {},
    childOutput: 'forward',
  }
  const status = await main(argv, io)
  return { status, stdout, stderr }
}

/**
 * An ELF note block with NT_GNU_BUILD_ID `id`, as /sys/kernel/notes and
 * /sys/module/<m>/notes/.note.gnu.build-id show it (for FAKE sys/ trees).
 */
export function buildIdNote(id: string): Buffer {
  const desc = Buffer.from(id, 'hex')
  const head = Buffer.alloc(12)
  head.writeUInt32LE(4, 0)
  head.writeUInt32LE(desc.length, 4)
  head.writeUInt32LE(3, 8)
  return Buffer.concat([head, Buffer.from('GNU\0', 'latin1'), desc, Buffer.alloc((4 - (desc.length % 4)) % 4)])
}

/** The DA lines of source `sf` in DIR/lcov.info: line → count. */
export function lcovLines(dir: string, sf: string): Map<number, number> {
  const text = readFileSync(join(dir, 'lcov.info'), 'utf8')
  const record = text.split('end_of_record').find((r) => r.includes(`SF:${sf}\n`))
  assert.ok(record, `no SF:${sf} in ${dir}/lcov.info`)
  const lines = new Map<number, number>()
  for (const m of record.matchAll(/^DA:(\d+),(\d+)$/gm)) lines.set(Number(m[1]), Number(m[2]))
  return lines
}

/** Runs f with a fresh temporary directory, removed afterwards. */
export function inTmp(f: (tmp: string) => void): void {
  const tmp = mkdtempSync(join(tmpdir(), 'kpc-test-'))
  try {
    f(tmp)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}
