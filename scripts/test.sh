#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds with -Werror, builds llama.cpp's tools
# (scripts/build-llama-cpp.sh), runs every test (unit, MPI integration, HDF5 and GGUF interop),
# then builds with ASan+UBSan and runs the unit tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
JOBS=$(nproc)

# The kernel sets this CPU has must be tested, not skipped: AQ_REQUIRE_SIMD makes their unit
# tests fail if they cannot run (CMakeLists.txt).  avx512 is the set src/quant/dispatch.c
# selects: AVX-512 F/BW/VL/DQ with F16C.
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
require=()
has avx2 fma && require+=(avx2)
has avx512f avx512bw avx512vl avx512dq f16c && require+=(avx512)
export AQ_REQUIRE_SIMD
AQ_REQUIRE_SIMD=$(IFS=';'; echo "${require[*]}")
echo "== kernel sets required by the tests: ${AQ_REQUIRE_SIMD:-none} =="

echo "== build (warnings are errors) =="
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAQ_WERROR=ON \
  -DAQ_REQUIRE_SIMD="$AQ_REQUIRE_SIMD" >/dev/null
cmake --build build-test -j"$JOBS"
echo "== llama.cpp tools for the GGUF tests (reused between runs; ~10 min the first time) =="
# The gguf.llama.* tests skip, saying why, when this fails or ../shared/llama.cpp is absent.
scripts/build-llama-cpp.sh || echo "llama.cpp tools not built: the gguf.llama.* tests will be skipped"
echo "== tests =="
(cd build-test && ctest --output-on-failure -j"$JOBS")

echo "== sanitizer build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAQ_WERROR=ON -DAQ_SANITIZE=ON \
  -DAQ_REQUIRE_SIMD="$AQ_REQUIRE_SIMD" >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$JOBS")
