/**
 * The modules a guest loads, built on the host against the guest kernel's
 * headers (a compiler on the host is 25x faster than one under TCG):
 * kprobecov.ko through the module builder (cached per release and source),
 * and each --build directory with `make -C KDIR M=DIR modules`, whose .ko
 * files are those kbuild lists in DIR/modules.order.
 */
import { existsSync, readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { KprobecovError } from '../errors.ts'
import { buildModule, cacheDir, cachedModulePath, kernelTree, type BuiltModule } from '../module/build.ts'
import { moduleSources } from '../module/sources.ts'
import { runSync, type Deadline } from './phases.ts'

export function buildKprobecov(kdir: string, env: Record<string, string | undefined>, log: (s: string) => void, deadline: Deadline): BuiltModule {
  deadline.left('build')
  const tree = kernelTree(kdir)
  const sources = moduleSources(env)
  if (!existsSync(cachedModulePath(cacheDir(env), tree.release, sources.hash))) log(`kprobecov vm: building kprobecov.ko for ${tree.release} (cached for later runs)`)
  return buildModule({ sources, tree, cache: cacheDir(env), env, onFailureOutput: log })
}

/** Builds a user's Kbuild directory; returns its .ko files. Throws EVMMODULE after printing the compiler's output. */
export function buildDir(dir: string, kdir: string, release: string, env: Record<string, string | undefined>, log: (s: string) => void, deadline: Deadline): string[] {
  if (!existsSync(join(dir, 'Kbuild')) && !existsSync(join(dir, 'Makefile'))) {
    throw new KprobecovError('EVMMODULE', `--build ${dir} holds no Kbuild or Makefile: give the directory of a kernel module's sources`)
  }
  const r = runSync('make', ['-C', kdir, `M=${dir}`, 'modules'], { phase: 'build', deadline, env: { ...env, LC_ALL: 'C' }, pkg: 'make' })
  if (r.status !== 0) {
    log(r.stdout + r.stderr)
    throw new KprobecovError('EVMMODULE', `--build ${dir} did not build against the headers of ${release} (make exited with ${r.status}; the compiler's output is above): fix the error, or check that the module supports this kernel`)
  }
  const order = join(dir, 'modules.order')
  const kos = existsSync(order)
    ? readFileSync(order, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => {
      const ko = l.trim().replace(/^kernel\//, '').replace(/\.o$/, '.ko')
      return isAbsolute(ko) ? ko : join(dir, ko)
    })
    : []
  if (kos.length === 0 || kos.some((k) => !existsSync(k))) {
    throw new KprobecovError('EVMMODULE', `--build ${dir} built no module (modules.order lists none): does its Kbuild say obj-m := NAME.o?`)
  }
  return kos
}
