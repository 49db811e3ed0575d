import { test } from 'vitest'
import { cases } from '../../../../../examples/kvstore/test/cases/errors.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
