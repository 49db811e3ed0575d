import { test } from '@jest/globals'
import { cases } from '../cases/errors.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
