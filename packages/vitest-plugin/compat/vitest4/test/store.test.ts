import { test } from 'vitest'
import { cases } from '../../../../../examples/kvstore/test/cases/store.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
