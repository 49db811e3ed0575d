/**
 * A vmlinux's source paths relative to its kernel tree. The debug info of a
 * kernel names its sources as the build saw them: DW_AT_name relative to the
 * tree (kernel/sys.c) joined with DW_AT_comp_dir, the directory the kernel
 * was built in, usually on another machine or in a directory that is gone.
 * Reports want `kernel/sys.c`: relative paths are placed under the project
 * root (PathOptions), so pointing the root at a kernel source tree of the
 * same version shows the sources. Headers of the compiler (stddef.h) and
 * generated files outside the tree keep their absolute paths.
 */
import path from 'node:path'
import type { DebugInfo } from './types.ts'

const MAIN = '/init/main.c'

/**
 * The kernel tree the vmlinux was built from: the directory holding
 * init/main.c, where start_kernel is declared; undefined when the debug
 * info does not say (its paths are relative already, or not a kernel's).
 */
export function kernelTree(di: DebugInfo): string | undefined {
  const start = di.functions.find((f) => f.symbol === 'start_kernel' && !f.noDwarf)
  const file = start === undefined ? undefined : di.files[start.declFile]
  if (file === undefined || !path.isAbsolute(file) || !file.endsWith(MAIN)) return undefined
  return file.slice(0, -MAIN.length) || '/'
}

/** The same debug info with the files inside its kernel tree relative to it. */
export function relativeToKernelTree(di: DebugInfo): DebugInfo {
  const tree = kernelTree(di)
  if (tree === undefined) return di
  const prefix = tree.endsWith('/') ? tree : `${tree}/`
  return { ...di, files: di.files.map((f) => (f.startsWith(prefix) ? f.slice(prefix.length) : f)) }
}
