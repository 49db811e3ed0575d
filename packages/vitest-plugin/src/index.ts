/**
 * @kprobecov/vitest: kernel coverage as a Vitest coverage provider.
 *
 *   plugins: [kprobecov({ modules: [{ name: 'kvstore', object: './kvstore.ko' }] })]
 *   $ vitest run --coverage.provider=kprobe
 *
 * The plugin points Vitest at the provider (customProviderModule) and, when
 * the provider is 'kprobe', switches coverage on in the root config and in
 * every project (a bare CLI flag is enough). Its options are the defaults of
 * `test.coverage.kprobe`.
 */
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { KprobecovOptions } from '@kprobecov/core'
import type { Plugin } from 'vitest/config'

export type { KprobecovModuleOption, KprobecovOptions } from '@kprobecov/core'

/** The plugin's name, by which the provider finds its options. */
export const PLUGIN_NAME = 'kprobecov'
export const PROVIDER = 'kprobe'

/**
 * The module Vitest loads as the coverage provider (main process and workers): the
 * sibling of this file, built (.js in dist/) or not (.ts in src/).
 */
export const providerModule = fileURLToPath(new URL(`./provider-module${extname(import.meta.url)}`, import.meta.url))

export interface KprobecovPluginApi {
  options: KprobecovOptions
}

export default function kprobecov(options: KprobecovOptions): Plugin {
  const api: KprobecovPluginApi = { options }
  return {
    name: PLUGIN_NAME,
    api,
    config() {
      return { test: { coverage: { customProviderModule: providerModule } } } as Record<string, unknown>
    },
    configureVitest({ vitest, project }) {
      // The CLI's --coverage.provider is merged after config(): decide here.
      if ((vitest.config.coverage.provider as string) !== PROVIDER) return
      vitest.config.coverage.enabled = true
      project.config.coverage.enabled = true
      if (!('customProviderModule' in vitest.config.coverage) || !vitest.config.coverage.customProviderModule) {
        Object.assign(vitest.config.coverage, { customProviderModule: providerModule })
      }
    },
  }
}
