import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Plan } from '../src/plan/types.ts'

// The plan is plain data: it survives a JSON round trip unchanged (reports and
// --merge-reports carry it between processes).
test('a plan is JSON-serialisable', () => {
  const plan: Plan = {
    version: 1,
    targets: [{ module: 'kvstore', object: 'kvstore.ko', buildId: 'ab', granularity: 'line' }],
    files: ['/src/kvstore.c'],
    functions: [{ target: 0, name: 'kv_get', file: 0, line: 10, endLine: 20, entryProbe: 0 }],
    probes: [{ target: 0, symbol: 'kv_get', offset: 0, kind: 'function', function: 0, lines: [[0, 10]] }],
    branches: [],
  }
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan)
})
