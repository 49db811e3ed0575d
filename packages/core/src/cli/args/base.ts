/**
 * What every command's arguments share: the parsed command line (Parsed),
 * UsageError, and the accessors that turn its values into typed options,
 * each mistake a UsageError with one line that says what to write instead.
 */
import path from 'node:path'
import type { ParseArgsOptionsConfig } from 'node:util'

export class UsageError extends Error {
  override name = 'UsageError'
}

export const COMMANDS = ['run', 'report', 'merge', 'status', 'unhit', 'callers', 'paths', 'trace', 'cmp', 'watch', 'doctor', 'module', 'vm'] as const
export type CommandName = (typeof COMMANDS)[number]

export type Values = Record<string, string | boolean | string[] | undefined>

export interface Parsed {
  command: CommandName
  values: Values
  positionals: string[]
  /** The words after `--`, undefined without `--`. */
  argv: string[] | undefined
}

export type ParseResult = { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'command'; parsed: Parsed }

/** A command's options, its help and what it takes before and after `--`. */
export interface CommandSpec {
  summary: string
  usage: string
  options: ParseArgsOptionsConfig
  help: string
  /** Text after the options. */
  notes?: string
  /** How many words before `--` (positionals). */
  positionals: [min: number, max: number]
  /** Whether a command after `--` is refused, allowed or needed. */
  after: 'no' | 'optional' | 'required'
}


export const see = (command?: CommandName) => (command ? `see kprobecov ${command} --help` : 'see kprobecov --help')

export const usage = (p: Parsed, message: string): UsageError =>
  new UsageError(`kprobecov ${p.command}: ${message} (${see(p.command)})`)

export const str = (p: Parsed, name: string): string | undefined => {
  const v = p.values[name]
  return typeof v === 'string' ? v : undefined
}
export const list = (p: Parsed, name: string): string[] => {
  const v = p.values[name]
  return Array.isArray(v) ? v : []
}
export const flag = (p: Parsed, name: string): boolean => p.values[name] === true

/** --NAME as a whole number in [min, max], `fallback` when not given. */
export function int(p: Parsed, name: string, min: number, max: number, fallback: number): number {
  const v = str(p, name)
  if (v === undefined) return fallback
  const n = /^\d+$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`
    throw usage(p, `--${name} must be a whole number ${range}, not '${v}'`)
  }
  return n
}

export function oneOf<T extends string>(p: Parsed, name: string, choices: readonly T[], fallback: T): T {
  const v = str(p, name)
  if (v === undefined) return fallback
  if (!(choices as readonly string[]).includes(v)) {
    throw usage(p, `--${name} must be ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, not '${v}'`)
  }
  return v as T
}

export const resolveIn = (cwd: string, p: string): string => path.resolve(cwd, p)
