declare module 'node-gyp-build' {
  /** Loads the prebuild or build/ addon that matches this runtime from the package at `root`. */
  function nodeGypBuild(root: string): unknown;
  export = nodeGypBuild;
}
