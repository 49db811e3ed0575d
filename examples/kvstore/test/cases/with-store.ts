import { KvStore } from '../../src/kvstore.ts'

/** Runs body with /dev/kvstore open, and closes it whatever happens. */
export function withStore(body: (kv: KvStore) => void): void {
  const kv = KvStore.open()
  try {
    body(kv)
  } finally {
    kv.close()
  }
}
