import { cases } from '../../../../../examples/kvstore/test/cases/stats.ts'

for (const [name, body] of Object.entries(cases)) test(name, body)
