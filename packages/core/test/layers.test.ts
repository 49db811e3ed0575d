// The layers hold: nothing the front ends load (the Vitest provider, the Jest reporter and
// environment, through @kprobecov/core and @kprobecov/core/worker) imports from core's cli/.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'

const packages = path.resolve(import.meta.dirname, '../..')
const core = path.join(packages, 'core/src')
const ENTRIES: Record<string, string> = {
  '@kprobecov/core': path.join(core, 'index.ts'),
  '@kprobecov/core/worker': path.join(core, 'testrun/worker.ts'),
}

/** The files `file` imports (static, type-only and dynamic imports of this repository's sources). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]!)
  return specifiers.flatMap((s) => {
    if (s in ENTRIES) return [ENTRIES[s]!]
    return s.startsWith('.') ? [path.resolve(path.dirname(file), s)] : []
  })
}

/** Every source file reachable from `roots`, with the file that first imported it. */
function reachable(roots: string[]): Map<string, string> {
  const seen = new Map<string, string>(roots.map((r) => [r, '(entry)']))
  const todo = [...roots]
  while (todo.length > 0) {
    const file = todo.pop()!
    for (const next of importsOf(file)) {
      if (seen.has(next)) continue
      seen.set(next, file)
      todo.push(next)
    }
  }
  return seen
}

const frontEnd = (pkg: string): string[] =>
  readdirSync(path.join(packages, pkg, 'src')).filter((f) => f.endsWith('.ts')).map((f) => path.join(packages, pkg, 'src', f))

test('the front ends load nothing of cli/', () => {
  const files = reachable([...frontEnd('vitest-plugin'), ...frontEnd('jest-reporter'), ...Object.values(ENTRIES)])
  assert.ok(files.has(path.join(core, 'session/modules.ts')), 'the walk reaches the session layer')
  const cli = path.join(core, 'cli') + path.sep
  const wrong = [...files].filter(([f]) => f.startsWith(cli)).map(([f, by]) => `${path.relative(packages, by)} imports ${path.relative(packages, f)}`)
  assert.deepEqual(wrong, [])
})
