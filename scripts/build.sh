#!/usr/bin/env bash
# Configures and builds aq-mpi into build/ (or $AQ_BUILD_DIR).  Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${AQ_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "build: programs in $BUILD/ (aq-mpi, aq-synth, aq-bench), HDF5 plugin in $BUILD/plugins/"
