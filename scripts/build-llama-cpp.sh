#!/usr/bin/env bash
# Builds the llama.cpp tools the GGUF interoperability tests run (llama-quantize,
# llama-perplexity, llama-imatrix, llama-diffusion-cli) from the source snapshot in
# ../shared/llama.cpp (or $AQ_LLAMA_SRC) into a build directory outside that tree
# ($AQ_LLAMA_BUILD, default <repo>/build-llama). The build is reused between runs: when the four
# tools exist and were built from the same upstream commit, nothing is rebuilt.
# Flags: ../shared/llama.cpp/SOURCE.txt. About 10-12 minutes on 2 cores the first time.
# Exit status: 0 built (or up to date), 77 no llama.cpp source, 1 build failed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=${AQ_LLAMA_SRC:-$REPO/../shared/llama.cpp}
BUILD=${AQ_LLAMA_BUILD:-$REPO/build-llama}
JOBS=${AQ_LLAMA_JOBS:-$(nproc)}
TOOLS="llama-quantize llama-perplexity llama-imatrix llama-diffusion-cli"

if [ ! -f "$SRC/CMakeLists.txt" ]; then
  echo "build-llama-cpp: no llama.cpp source at $SRC" >&2
  exit 77
fi
SRC=$(cd "$SRC" && pwd)
# The snapshot has no .git; SOURCE.txt names the upstream commit it was taken from.
COMMIT=$(grep -o 'commit [0-9a-f]\{40\}' "$SRC/SOURCE.txt" 2>/dev/null | head -n1 | cut -d' ' -f2 || true)
COMMIT=${COMMIT:-unknown}
STAMP="$BUILD/aq-llama-commit"

up_to_date() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$COMMIT:$SRC" ] || return 1
  for t in $TOOLS; do [ -x "$BUILD/bin/$t" ] || return 1; done
}

if up_to_date; then
  echo "build-llama-cpp: up to date ($BUILD/bin, commit $COMMIT)"
  exit 0
fi
mkdir -p "$BUILD"
rm -f "$STAMP"
echo "build-llama-cpp: building $TOOLS from $SRC (commit $COMMIT) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF >"$BUILD/aq-configure.log" 2>&1 ||
  { echo "build-llama-cpp: cmake configure failed, see $BUILD/aq-configure.log" >&2; exit 1; }
# shellcheck disable=SC2086 # TOOLS is a word list
cmake --build "$BUILD" -j"$JOBS" --target $TOOLS >"$BUILD/aq-build.log" 2>&1 ||
  { echo "build-llama-cpp: build failed, see $BUILD/aq-build.log" >&2; exit 1; }
for t in $TOOLS; do
  [ -x "$BUILD/bin/$t" ] || { echo "build-llama-cpp: $t missing after build" >&2; exit 1; }
done
echo "$COMMIT:$SRC" >"$STAMP"
echo "build-llama-cpp: built $TOOLS in $BUILD/bin"
