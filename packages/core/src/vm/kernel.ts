/**
 * Which kernel `kprobecov vm --kernel SPEC` boots. SPEC is a series (6.1,
 * 6.12: the newest release of it that the kernel source lists), a Debian
 * release (6.12.118+deb12-amd64), or the path of a kernel image (anything
 * with a '/', or an existing file).
 *
 * Default (no --kernel): the running kernel's own release when the source
 * has it (the guest then runs what the host runs, minus the risk), else the
 * source's default kernel (Debian's linux-image-amd64: the newest stable
 * kernel of the host's suite). Decided so that `kprobecov vm -- npm test`
 * tests against the kernel a user would get next.
 *
 * A KernelSource is where Debian kernels come from: apt's lists of the host
 * (debian.ts). Another suite (unstable, through private apt lists) is another
 * KernelSource; nothing here knows which suite it is.
 */
import { existsSync } from 'node:fs'
import { KprobecovError } from '../errors.ts'

export type KernelSpec =
  | { kind: 'series'; series: string }
  | { kind: 'release'; release: string }
  | { kind: 'image'; path: string }

export interface KernelSource {
  /** How errors name it, e.g. "apt's lists". */
  readonly name: string
  /** The newest release of a series (6.12 → 6.12.118+deb12-amd64), undefined when it lists none. */
  seriesRelease(series: string): string | undefined
  /** The release of its default kernel, undefined when it has none. */
  defaultRelease(): string | undefined
  /** Whether it has the image of a release. */
  hasRelease(release: string): boolean
  /** The series it has kernels of, oldest first (for errors). */
  series(): string[]
  /** How to make it list more kernels (for errors). */
  readonly moreHint: string
}

const SERIES = /^\d+\.\d+$/
const RELEASE = /^\d+\.\d+[.-][0-9A-Za-z.+~-]*$/

export function parseKernelSpec(spec: string, exists: (p: string) => boolean = existsSync): KernelSpec {
  if (spec.includes('/') || (exists(spec) && !SERIES.test(spec))) return { kind: 'image', path: spec }
  if (SERIES.test(spec)) return { kind: 'series', series: spec }
  if (RELEASE.test(spec)) return { kind: 'release', release: spec }
  throw new KprobecovError('ENOKERNEL', `'${spec}' is no kernel: give a series (--kernel 6.12), a Debian release (--kernel 6.12.118+deb12-amd64) or the path of a kernel image`)
}

const listed = (source: KernelSource): string => {
  const s = source.series()
  return s.length > 0 ? `${source.name} have ${s.join(', ')}` : `${source.name} have no kernels`
}

/** The release a series or release SPEC names, checked against the source. Throws ENOKERNEL naming what it has. */
export function resolveRelease(spec: KernelSpec & { kind: 'series' | 'release' } | undefined, source: KernelSource, hostRelease: string): string {
  if (spec === undefined) {
    if (source.hasRelease(hostRelease)) return hostRelease
    const r = source.defaultRelease()
    if (r === undefined) throw new KprobecovError('ENOKERNEL', `${source.name} name no default kernel (linux-image-amd64): give --kernel SERIES (${listed(source)})`)
    return r
  }
  if (spec.kind === 'series') {
    const r = source.seriesRelease(spec.series)
    if (r === undefined) throw new KprobecovError('ENOKERNEL', `no Debian kernel ${spec.series}: ${listed(source)}; ${source.moreHint}`)
    return r
  }
  if (!source.hasRelease(spec.release)) {
    throw new KprobecovError('ENOKERNEL', `no Debian kernel release ${spec.release}: ${listed(source)} (give a series, e.g. --kernel ${source.series().at(-1) ?? '6.1'}); ${source.moreHint}`)
  }
  return spec.release
}
