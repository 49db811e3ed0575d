// Storing, reading back and deleting: the driver's happy paths.
// Test files run at the same time against one /dev/kvstore: each uses keys of its own.
import assert from 'node:assert/strict'
import { withStore } from './with-store.ts'

export const cases: Record<string, () => void> = {
  'a value set is read back through the GET ioctl': () => withStore((kv) => {
    kv.set('store.colour', 'blue')
    assert.equal(kv.get('store.colour'), 'blue')
  }),
  'setting a key again replaces its value': () => withStore((kv) => {
    kv.set('store.size', 'small')
    kv.set('store.size', 'large')
    assert.equal(kv.get('store.size'), 'large')
  }),
  'read() lists the entries as KEY=VALUE lines': () => withStore((kv) => {
    kv.set('store.a', '1')
    kv.set('store.b', '2')
    const dump = kv.dump()
    assert.equal(dump['store.a'], '1')
    assert.equal(dump['store.b'], '2')
  }),
  'a deleted key is gone': () => withStore((kv) => {
    kv.set('store.tmp', 'x')
    kv.del('store.tmp')
    assert.throws(() => kv.get('store.tmp'), { code: 'ENOENT' })
  }),
}
