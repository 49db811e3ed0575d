export { version } from './version.ts'

// Probe planning, coverage maps, lcov and reports.
export type {
  Granularity, ModuleTarget, Plan, PlanBranch, PlanFunction, PlanProbe, PlanSkip, PlanTarget, ProbeKind,
} from './plan/types.ts'
export { planProbes, type PlanInput, type PlanOptions } from './plan/plan.ts'
export {
  createCoverageMapper, notInstrumentedLines, toCoverageMap, LINE_END_COLUMN,
  type CoverageMapper, type CoverageOptions, type NotInstrumentedLine, type ProbeCounts, type ProbeFailed,
} from './coverage/coverage-map.ts'
export { reportPath, type PathOptions } from './coverage/paths.ts'
export { lcovToCoverageMap, normaliseLcov, parseLcov, type LcovRecord } from './coverage/lcov.ts'
export { istanbulJsonToCoverageMap, mergeCoverage, mergeCoverageMaps } from './coverage/merge.ts'
export { writeReports, type ReporterSpec, type WriteReportsOptions } from './reports/reports.ts'
export { testsByLine, writeRunOutputs, type RunOutputs } from './reports/run-outputs.ts'

// The device and debug info.
export type { BranchSuccessor, DebugBranch, DebugFunction, DebugInfo, DebugLine, DebugSection, KcovSite } from './debuginfo/types.ts'
export { loadDebugInfo, type LoadDebugInfoOptions } from './native/debuginfo.ts'
export {
  Collector, DEFAULT_DEVICE, ProbeState, probeKindOfState,
  type AddProbesResult, type AttachOptions, type AttachScope, type CallerEntry, type Callers, type CollectorLimits,
  type InitOptions, type NextUnhitOptions, type ProbeSelection, type ProbeSpec, type ProbeStatuses, type SlotStats,
  type Trace,
} from './device/collector.ts'
export {
  checkModuleMatches, kprobesState, loadedBuildId, moduleLoaded, moduleObjectPath, normaliseModuleName,
  type ModuleMatch, type ModuleObjectOptions, type SystemPaths,
} from './device/system.ts'
export { KprobecovError, type KprobecovErrorCode } from './errors.ts'

// Choices and defaults, one definition for the CLI and the front ends.
export {
  BACKENDS, DEFAULT_BACKEND, DEFAULT_GRANULARITY, DEFAULT_KCOV_BUFFER, DEFAULT_OUT, DEFAULT_SLOTS, GRANULARITIES,
} from './defaults.ts'

// Test runs of the front ends (Vitest provider, Jest reporter): main-process side.
export {
  BACKEND_ENV, chooseBackend, resolveKprobecovOptions,
  type Backend, type KcovOptions, type KprobecovModuleOption, type KprobecovOptions, type ResolvedKprobecovOptions,
} from './testrun/options.ts'
export { TestRun, exitOnSetupError, type TestRunOptions } from './testrun/test-run.ts'
export { isTestRunResults, mergeResults, writeResults, type TestRunResults, type WriteResultsOptions } from './testrun/results.ts'
export { isWorkerSample, type WorkerSample } from './testrun/sample.ts'
export { COLLECTOR_ENV, WorkerAttachment } from './testrun/worker.ts'
export { thresholdViolations, type Metric, type Thresholds, type ThresholdViolation } from './testrun/thresholds.ts'
export { printReports, isConsoleReporter, type ConsoleOutput } from './reports/console.ts'

// The KCOV backend (kernels built with CONFIG_KCOV).
export {
  buildKcovMap, KcovResolver, lineRowAt,
  type KcovMap, type KcovMapInput, type KcovMapSection, type KcovMapTarget, type KcovResolved, type SectionBases,
} from './kcov/map.ts'
export { DEFAULT_KCOV, kaslrOffset, kcovPresent, moduleSectionBases } from './kcov/system.ts'
export { KcovTracer, uvThreadPoolSize, type KcovComparison, type KcovDrainStats, type KcovMode } from './kcov/tracer.ts'
export type { KcovSampleStats } from './kcov/worker.ts'
export {
  placeComparisons, traceComparisons, type ComparisonModule, type ComparisonRecord, type TraceComparisonsOptions,
} from './kcov/comparisons.ts'
