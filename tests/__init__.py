"""radiopipe test suite (a regular package, so that a third-party top-level ``tests`` package
installed by a dependency, such as rt-utils, never shadows it in worker processes)."""
