// What the driver refuses, and with which errno. Left out on purpose, so the
// report shows them missed: a full table (ENOSPC) and an oversized write (EMSGSIZE).
import assert from 'node:assert/strict'
import { withStore } from './with-store.ts'

export const cases: Record<string, () => void> = {
  'an unknown command is EINVAL': () => withStore((kv) => {
    assert.throws(() => kv.command('put errors.k v\n'), { code: 'EINVAL' })
  }),
  'a key with a slash is EINVAL': () => withStore((kv) => {
    assert.throws(() => kv.set('errors/k', 'v'), { code: 'EINVAL' })
  }),
  'a key of 32 bytes is E2BIG': () => withStore((kv) => {
    assert.throws(() => kv.set('e'.repeat(32), 'v'), { code: 'E2BIG' })
  }),
  'deleting a missing key is ENOENT': () => withStore((kv) => {
    assert.throws(() => kv.del('errors.never-set'), { code: 'ENOENT' })
  }),
}
