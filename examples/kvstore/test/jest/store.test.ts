import { test } from '@jest/globals'
import { cases } from '../cases/store.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
