/** The optional peer dependencies the exporters load, and the coded error when one is not installed. */

export class MissingPeerError extends Error {
  readonly code = 'ERR_TCP_KEEPALIVE_MISSING_PEER';
  /** The npm package to install. */
  readonly package: string;
  constructor(packageName: string, feature: string, cause: unknown) {
    super(`${feature} needs the package ${packageName}, which is not installed: npm install ${packageName}`, { cause });
    this.name = 'MissingPeerError';
    this.package = packageName;
  }
}

/** require() of an optional peer dependency, from the application's node_modules. */
export function requirePeer<T>(packageName: string, feature: string): T {
  try {
    return require(packageName) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${packageName}'`)) {
      throw new MissingPeerError(packageName, feature, error);
    }
    throw error;
  }
}
