/**
 * The choices and defaults a user can give, defined once for every way in:
 * the CLI, the Vitest provider and the Jest reporter. The README documents
 * some of them; test/defaults-readme.test.ts checks it against this file.
 * (Numbers of the kernel ABI live in native/abi.ts, which mirrors the header.)
 */

/** How fine the probes are: a probe per function entry, per source line, per basic block. */
export const GRANULARITIES = ['function', 'line', 'branch'] as const
export type Granularity = (typeof GRANULARITIES)[number]
export const DEFAULT_GRANULARITY: Granularity = 'branch'

/**
 * Where the counts come from. 'kprobe': kprobecov.ko plants probes (any
 * kernel with kprobes; every thread and child process of a test worker is
 * counted). 'kcov': the kernel's KCOV (a kernel built with CONFIG_KCOV and
 * modules built with its instrumentation); nothing is planted, each test
 * worker traces its own threads. 'auto' (the default): 'kprobe' when the
 * kprobecov device exists, else 'kcov' when KCOV does, else 'kprobe' (whose
 * error says how to load the module).
 */
export const BACKENDS = ['kprobe', 'kcov', 'auto'] as const
export type Backend = (typeof BACKENDS)[number]
export const DEFAULT_BACKEND: Backend = 'auto'
/** The environment variable that gives the backend when the options do not. */
export const BACKEND_ENV = 'KPROBECOV_BACKEND'

/**
 * KCOV PC records (8 bytes each) per traced thread between two drains: 2^21
 * (16 MB). The same for the CLI (`run --backend kcov`, whose preloaded
 * processes are drained only when they exit) and the front ends (drained
 * every 200 ms and after each test file); libuv's pool threads get a quarter.
 */
export const DEFAULT_KCOV_BUFFER = 1 << 21
export const MIN_KCOV_BUFFER = 1024
export const MAX_KCOV_BUFFER = 1 << 28
/** KCOV comparisons (4 words each) per traced thread for `cmp`: 2^18 (8 MB, as many bytes as 2^20 PCs). */
export const DEFAULT_CMP_BUFFER = 1 << 18
export const MAX_CMP_BUFFER = 1 << 26

/** Test workers attached at once (collector slots). */
export const DEFAULT_SLOTS = 64
/** Where reports are written, relative to the working directory (CLI) or Jest's rootDir. */
export const DEFAULT_OUT = 'coverage/kernel'
/** log2 of the edge map's counters (`run --callers`, `paths`). */
export const DEFAULT_EDGE_BITS = 16
/** Entries of `trace`'s ring. */
export const DEFAULT_TRACE_ENTRIES = 65536
/** Seconds a test worker waits for the probes to be armed. */
export const ARM_TIMEOUT_ENV = 'KPROBECOV_ARM_TIMEOUT'
export const DEFAULT_ARM_TIMEOUT_S = 600
