// native/abi.ts mirrors two C headers by hand (the kernel ABI, libkprobecov's blob): a
// small C program built here prints sizeof and offsetof of every struct and field it names,
// and the values of the constants, from the headers themselves; they must be abi.ts's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as abi from '../src/native/abi.ts'
import { inTmp } from './cli-helpers.ts'

const root = resolve(import.meta.dirname, '../../..')

/** abi.ts's layout tables and the C structs they mirror. */
const STRUCTS: Record<string, string> = {
  AreaHeader: 'kprobecov_area_header',
  SlotStats: 'kprobecov_slot_stats',
  Probe: 'kprobecov_probe',
  AddProbes: 'kprobecov_add_probes',
  Caller: 'kprobecov_caller',
  BlobHeader: 'kpc_blob_header',
  BlobKcovSite: 'kpc_blob_kcov_site',
  KcovStats: 'kpc_kcov_stats',
  KcovCmp: 'kpc_kcov_cmp',
  BlobBlockStart: 'kpc_blob_block_start',
  BlobSection: 'kpc_blob_section',
  BlobFunction: 'kpc_blob_function',
  BlobLine: 'kpc_blob_line',
  BlobSuccessor: 'kpc_blob_successor',
  BlobBranch: 'kpc_blob_branch',
}
/** abi.ts's scalar constants and the C expressions they mirror. */
const CONSTANTS: Record<string, string> = {
  ABI_VERSION: 'KPROBECOV_ABI_VERSION',
  MODULE_LEN: 'KPROBECOV_MODULE_LEN',
  SYMBOL_LEN: 'KPROBECOV_SYMBOL_LEN',
  MAX_BATCH: 'KPROBECOV_MAX_BATCH',
  MAX_EDGE_BITS: 'KPROBECOV_MAX_EDGE_BITS',
  VERSION_SIZE: 'sizeof(struct kprobecov_version)',
  PROBE_STATUS_SIZE: 'sizeof(struct kprobecov_probe_status)',
  AREA_MAGIC: 'KPROBECOV_AREA_MAGIC',
  BLOB_MAGIC: 'KPC_BLOB_MAGIC',
}
// Keys of a table that are no field: SIZE is sizeof (but BlobBlockStart.SIZE, the smallest
// entry the reader accepts: blobs of before `kind` have 8-byte entries), BUILD_ID_MAX the
// size of BlobHeader's build_id array.

test('every struct, field offset and constant of native/abi.ts is the C headers\'', () => inTmp((tmp) => {
  const out: string[] = []
  const expected = new Map<string, string>()
  for (const [table, struct] of Object.entries(STRUCTS)) {
    const t = (abi as unknown as Record<string, Record<string, number>>)[table]
    assert.ok(t !== undefined, `abi.ts has no ${table}`)
    for (const [key, value] of Object.entries(t)) {
      if (key === 'SIZE') {
        if (table === 'BlobBlockStart') continue
        out.push(`P("${table}.SIZE", sizeof(struct ${struct}));`)
      } else if (key === 'BUILD_ID_MAX') {
        out.push(`P("${table}.${key}", sizeof(((struct ${struct} *)0)->build_id));`)
      } else {
        out.push(`P("${table}.${key}", offsetof(struct ${struct}, ${key}));`)
      }
      expected.set(`${table}.${key}`, String(value))
    }
  }
  for (const [name, expr] of Object.entries(CONSTANTS)) {
    out.push(`P("${name}", (unsigned long long)(${expr}));`)
    expected.set(name, String((abi as unknown as Record<string, number | bigint>)[name]))
  }
  writeFileSync(join(tmp, 'layout.c'), `#include <stddef.h>
#include <stdio.h>
#include <linux/kprobecov.h>
#include "libkprobecov.h"
#define P(name, v) printf("%s %llu\\n", name, (unsigned long long)(v))
int main(void)
{
${out.map((l) => `\t${l}`).join('\n')}
\treturn 0;
}
`)
  execFileSync('cc', ['-std=gnu11', '-Wall', '-Werror', `-I${root}/kmod/include/uapi`, `-I${root}/native/include`,
    '-o', join(tmp, 'layout'), join(tmp, 'layout.c')], { stdio: ['ignore', 'ignore', 'pipe'] })
  const actual = new Map(execFileSync(join(tmp, 'layout'), { encoding: 'utf8' }).trim().split('\n')
    .map((l) => l.split(' ') as [string, string]))
  assert.deepEqual(Object.fromEntries(expected), Object.fromEntries(actual))
}))
