import { readFileSync, writeFileSync } from 'node:fs'
import { expect, test } from 'vitest'

test('add makes the number grow', () => {
  writeFileSync('/dev/kpcdemo', 'reset')
  writeFileSync('/dev/kpcdemo', 'add 5')
  writeFileSync('/dev/kpcdemo', 'add 2')
  expect(readFileSync('/dev/kpcdemo', 'utf8')).toBe('7\n')
})
