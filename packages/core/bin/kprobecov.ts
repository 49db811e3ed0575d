#!/usr/bin/env node
// The kprobecov command; everything else is in src/cli/ (main.ts).
import { main } from '../src/cli/main.ts'

// Output piped into `head` and the like: the rest of it is not wanted, the work still is.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e
  })
}
process.exitCode = await main(process.argv.slice(2))
