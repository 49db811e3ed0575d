// The defaults the README documents are the ones the code uses (src/defaults.ts).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import {
  ARM_TIMEOUT_ENV, BACKENDS, DEFAULT_ARM_TIMEOUT_S, DEFAULT_BACKEND, DEFAULT_GRANULARITY, DEFAULT_KCOV_BUFFER, DEFAULT_OUT,
  GRANULARITIES,
} from '../src/defaults.ts'

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ')
const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹'
const power = (n: number): string => `2${[...String(Math.log2(n))].map((d) => SUPERSCRIPT[Number(d)]).join('')}`

/** Fails naming the fragment the README lacks. */
const has = (fragment: string): void => {
  assert.ok(readme.includes(fragment), `the README does not say: ${fragment}`)
}

test('granularity: the choices in order, the default last', () => {
  assert.equal(GRANULARITIES.at(-1), DEFAULT_GRANULARITY)
  has(`\`granularity\` (${GRANULARITIES.map((g) => `\`${g}\``).join(', ')}, the default)`)
})

test('backend: the choices, the default last', () => {
  assert.equal(BACKENDS.at(-1), DEFAULT_BACKEND)
  const [a, b, c] = BACKENDS.map((x) => `\`'${x}'\``)
  has(`\`backend\` (${a}, ${b} or ${c}, the default;`)
  has(`**\`${DEFAULT_BACKEND}\`, the default, prefers kprobes**`)
})

test('kcov.buffer: records per thread', () => {
  has(`\`kcov.buffer\` records, default ${power(DEFAULT_KCOV_BUFFER)})`)
})

test('the arm timeout', () => {
  has(`\`${ARM_TIMEOUT_ENV}\` seconds (default ${DEFAULT_ARM_TIMEOUT_S})`)
})

test('the output directory of the CLI and of the Jest reporter', () => {
  has(`\`--out\` (default \`${DEFAULT_OUT}\`)`)
  has(`\`outputDirectory\` (default \`${DEFAULT_OUT}\`)`)
})
