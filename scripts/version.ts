#!/usr/bin/env node
// kprobecov's one version, and the metadata every published package shares, set in one
// place: "version", "repository", "homepage" and "license" of the root package.json.
//
//   node scripts/version.ts            writes them into every place below
//   node scripts/version.ts 0.2.0      sets the root's version first, then the same
//   node scripts/version.ts --check    lists what differs and exits 1 (a host test runs it)
//
// Places: each published package.json (version; repository with its directory; homepage;
// license where the package has no licence of its own; publishConfig public), packages/core/src/version.ts,
// kmod/main.c (MODULE_VERSION) and kmod/dkms.conf (PACKAGE_VERSION).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
/** Published packages: directory, and the licence when it is not the root's. */
export const PACKAGES: ReadonlyArray<{ dir: string; license?: string; repoDir?: string }> = [
  { dir: 'packages/core' },
  { dir: 'packages/vitest-plugin' },
  { dir: 'packages/jest-reporter' },
  { dir: 'packages/kmod', license: 'GPL-2.0-only', repoDir: 'kmod' },
  { dir: 'packages/native/linux-x64-gnu', license: 'GPL-2.0-only' },
]

interface Meta { version: string; license: string; repository: { type: string; url: string }; homepage: string }

const read = (f: string) => readFileSync(join(root, f), 'utf8')
const rootJson = () => JSON.parse(read('package.json')) as Meta

/** Each file's wanted text, from the root's metadata. */
export function wanted(meta: Meta = rootJson()): Map<string, string> {
  const out = new Map<string, string>()
  for (const p of PACKAGES) {
    const file = `${p.dir}/package.json`
    const json = JSON.parse(read(file)) as Record<string, unknown>
    json.version = meta.version
    json.license = p.license ?? meta.license
    json.repository = { ...meta.repository, directory: p.repoDir ?? p.dir }
    json.homepage = meta.homepage
    // Scoped packages are private on the registry unless published as public.
    json.publishConfig = { access: 'public' }
    out.set(file, `${JSON.stringify(json, null, 2)}\n`)
  }
  const sub = (file: string, re: RegExp, line: string) => {
    const text = read(file)
    if (!re.test(text)) throw new Error(`${file}: no line matches ${re}`)
    out.set(file, text.replace(re, line))
  }
  sub('packages/core/src/version.ts', /^export const version = .*$/m, `export const version = '${meta.version}'`)
  sub('kmod/main.c', /^MODULE_VERSION\(.*\);$/m, `MODULE_VERSION("${meta.version}");`)
  sub('kmod/dkms.conf', /^PACKAGE_VERSION=.*$/m, `PACKAGE_VERSION="${meta.version}"`)
  return out
}

if (import.meta.main) {
  const arg = process.argv[2]
  if (arg !== undefined && arg !== '--check') {
    if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(arg)) {
      console.error(`version.ts: '${arg}' is no version (MAJOR.MINOR.PATCH[-PRE])`)
      process.exit(2)
    }
    const json = JSON.parse(read('package.json')) as Record<string, unknown>
    json.version = arg
    writeFileSync(join(root, 'package.json'), `${JSON.stringify(json, null, 2)}\n`)
  }
  const differ = [...wanted()].filter(([file, text]) => read(file) !== text).map(([file]) => file)
  if (arg === '--check') {
    for (const f of differ) console.error(`version.ts: ${f} differs from the root package.json's version or metadata: run node scripts/version.ts`)
    process.exit(differ.length === 0 ? 0 : 1)
  }
  for (const [file, text] of wanted()) writeFileSync(join(root, file), text)
  console.log(`version ${rootJson().version}: ${differ.length} file(s) written`)
}
