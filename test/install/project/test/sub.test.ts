import { readFileSync, writeFileSync } from 'node:fs'
import { expect, test } from 'vitest'

test('sub stops at zero', () => {
  writeFileSync('/dev/kpcdemo', 'reset')
  writeFileSync('/dev/kpcdemo', 'sub 3')
  expect(readFileSync('/dev/kpcdemo', 'utf8')).toBe('0\n')
})
