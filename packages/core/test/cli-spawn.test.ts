// How the CLI starts the command it measures: held in read(2) on fd 3 until it is
// attached and released, then exec'd in the same process; its status passed on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CliIO } from '../src/cli/io.ts'
import { checkCommand, spawnHeld } from '../src/cli/spawn.ts'
import { KprobecovError } from '../src/errors.ts'

function io(cwd: string): CliIO & { out: () => string } {
  let out = ''
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (out += s) },
    cwd, env: process.env, system: {}, childOutput: 'forward',
    out: () => out,
  }
}

test('the command does not run before release, then runs as the same process; its status is passed on', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kpc-spawn-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const cmd = spawnHeld(['sh', '-c', 'echo $$ >started; exit 7'], io(dir))
  await sleep(300)
  assert.equal(existsSync(path.join(dir, 'started')), false, 'it ran before release')
  cmd.release()
  assert.equal(await cmd.exited, 7)
  assert.equal(readFileSync(path.join(dir, 'started'), 'utf8').trim(), String(cmd.pid), 'exec keeps the pid that was attached')
})

test('fd 3 is closed in the command; its output is forwarded; a signal gives 128 + its number', async () => {
  const child = io(os.tmpdir())
  const cmd = spawnHeld(['sh', '-c', 'if [ -e /proc/self/fd/3 ]; then echo fd3 open; else echo fd3 closed; fi'], child)
  cmd.release()
  assert.equal(await cmd.exited, 0)
  assert.equal(child.out(), 'fd3 closed\n')
  const killed = spawnHeld(['sh', '-c', 'kill -TERM $$'], io(os.tmpdir()))
  killed.release()
  assert.equal(await killed.exited, 128 + os.constants.signals.SIGTERM)
})

test('a command that cannot run is one line naming the fix, before anything is started', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kpc-spawn-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const message = (argv: string[]) => {
    try {
      checkCommand(argv, io(dir))
    } catch (e) {
      assert.ok(e instanceof KprobecovError)
      return e.message
    }
    return 'no error'
  }
  assert.equal(message(['kpc-no-such-command']), 'kpc-no-such-command: command not found: check its name, or your PATH')
  writeFileSync(path.join(dir, 'script.sh'), '#!/bin/sh\n')
  assert.equal(message(['./script.sh']), './script.sh: no such executable file: check the path (and that it is executable)')
  chmodSync(path.join(dir, 'script.sh'), 0o755)
  assert.equal(message(['./script.sh']), 'no error')
  assert.equal(message(['sh']), 'no error')
})
