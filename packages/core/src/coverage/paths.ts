/**
 * Source paths in reports: relative to the project root when inside it (so
 * maps from different checkouts and CI shards merge, and Codecov can match
 * them), absolute otherwise. Debug info names the paths of the machine that
 * built the object; `sourceRoot` maps that build directory onto the root.
 */
import path from 'node:path'

export interface PathOptions {
  /** The project root (absolute, or relative to the working directory). */
  root: string
  /**
   * The directory the objects were built in, when it is not the root (a module
   * built in a container or CI job under another path): source paths under it
   * are read as if under the root. Relative: against the root.
   */
  sourceRoot?: string
}

function inside(dir: string, p: string): string | undefined {
  const rel = path.relative(dir, p)
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined
  return rel
}

/** A debug-info source path (absolute) as reports show it. */
export function reportPath(source: string, options: PathOptions): string {
  const root = path.resolve(options.root)
  let abs = path.resolve(root, source)
  if (options.sourceRoot !== undefined) {
    const rel = inside(path.resolve(root, options.sourceRoot), abs)
    if (rel !== undefined) abs = path.join(root, rel)
  }
  const rel = inside(root, abs)
  return rel === undefined ? abs : rel.split(path.sep).join('/')
}

/** A report path back to an absolute path (reports read the source from it). */
export function absolutePath(reported: string, root: string): string {
  return path.resolve(root, reported)
}

/**
 * A path given by a user or a file (lcov SF:, Istanbul JSON key) as a report
 * path: absolute inside the root → relative; relative stays relative.
 */
export function normaliseReportPath(p: string, root: string): string {
  if (!path.isAbsolute(p)) return path.normalize(p).split(path.sep).join('/')
  const rel = inside(path.resolve(root), p)
  return rel === undefined ? path.normalize(p) : rel.split(path.sep).join('/')
}
