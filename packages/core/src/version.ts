/** kprobecov's version: every package's, the module's (MODULE_VERSION) and dkms.conf's; set with scripts/version.ts. */
export const version = '0.1.0'
