/**
 * Running the kprobecov CLI in this process (main() with captured output),
 * for the cli-*.test.ts files and the guest's cli.test.ts.
 */
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
