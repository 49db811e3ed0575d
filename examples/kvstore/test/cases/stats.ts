// The statistics ioctls.
import assert from 'node:assert/strict'
import { withStore } from './with-store.ts'

export const cases: Record<string, () => void> = {
  'STATS reports the capacity given by max_entries': () => withStore((kv) => {
    assert.equal(kv.stats().capacity, 16)
  }),
  'a GET of a missing key counts as a miss': () => withStore((kv) => {
    const before = kv.stats().misses
    assert.throws(() => kv.get('stats.missing'), { code: 'ENOENT' })
    assert.ok(kv.stats().misses > before)
  }),
  'RESET_STATS zeroes the counters': () => withStore((kv) => {
    kv.resetStats()
    const s = kv.stats()
    assert.ok(s.sets + s.gets + s.misses + s.deletes < 100)
  }),
}
