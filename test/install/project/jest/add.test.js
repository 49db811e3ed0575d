const { readFileSync, writeFileSync } = require('node:fs')

test('add makes the number grow', () => {
  writeFileSync('/dev/kpcdemo', 'reset')
  writeFileSync('/dev/kpcdemo', 'add 5')
  writeFileSync('/dev/kpcdemo', 'add 2')
  expect(readFileSync('/dev/kpcdemo', 'utf8')).toBe('7\n')
})
