#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds with -Werror, builds llama.cpp's tools
# (scripts/build-llama-cpp.sh), runs every test (unit, MPI integration, HDF5 and GGUF interop),
# then builds with ASan+UBSan and runs the unit tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
JOBS=$(nproc)

echo "== build (warnings are errors) =="
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAQ_WERROR=ON >/dev/null
cmake --build build-test -j"$JOBS"
echo "== llama.cpp tools for the GGUF tests (reused between runs; ~10 min the first time) =="
# The gguf.llama.* tests skip, saying why, when this fails or ../shared/llama.cpp is absent.
scripts/build-llama-cpp.sh || echo "llama.cpp tools not built: the gguf.llama.* tests will be skipped"
echo "== tests =="
(cd build-test && ctest --output-on-failure -j"$JOBS")

echo "== sanitizer build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAQ_WERROR=ON -DAQ_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$JOBS")
