import { test } from 'vitest'
import { cases } from '../cases/stats.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
