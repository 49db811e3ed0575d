const { readFileSync, writeFileSync } = require('node:fs')

test('sub stops at zero', () => {
  writeFileSync('/dev/kpcdemo', 'reset')
  writeFileSync('/dev/kpcdemo', 'sub 3')
  expect(readFileSync('/dev/kpcdemo', 'utf8')).toBe('0\n')
})
