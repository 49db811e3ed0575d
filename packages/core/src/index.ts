/** The package version; kept equal to "version" in package.json. */
export const version = '0.0.0';
