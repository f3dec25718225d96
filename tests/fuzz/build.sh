#!/usr/bin/env bash
# tests/fuzz/build.sh OUT_DIR — builds the libFuzzer harnesses with clang
# (-fsanitize=fuzzer,address,undefined) directly against the parser sources:
#   fuzz_safetensors  aq_st_parse (safetensors header + layout)
#   fuzz_index        aq_checkpoint_open on a sharded directory (index JSON, config.json, shard)
#   fuzz_config       aq_config_load / aq_config_set / INI round trip
#   fuzz_calib        aq_calib_open / aq_calib_load on files built from the input
#   fuzz_hessian      aq_hessian_read on calibration files with hostile /hessian groups
# Exit 77 (CTest "skipped") with the reason when clang or its fuzzer runtime is missing.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
CC=${FUZZ_CC:-clang}
mkdir -p "$out"

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: $CC not found (apt-get install clang libclang-rt-14-dev)"; exit 77
fi
probe="$out/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe" -o "$out/probe" 2>"$out/probe.err"; then
  echo "fuzz: SKIPPED: $CC has no libFuzzer runtime (apt-get install libclang-rt-14-dev): $(head -1 "$out/probe.err")"
  exit 77
fi

FLAGS=(-std=c17 -D_GNU_SOURCE -DAQ_VERSION=\"fuzz\" -g -O1 -Wall -Wextra -Werror -Wno-unknown-pragmas
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
       -I"$root/include" -I"$root/tests/fuzz")
common=("$root"/src/common/*.c "$root/tests/fuzz/fuzz_util.c")
st=("$root"/src/io/safetensors/*.c)
read -r -a JANSSON <<<"$(pkg-config --cflags --libs jansson nettle)" # st_digest.c: SHA-256
read -r -a INIH <<<"$(pkg-config --cflags --libs inih)"
read -r -a HDF5 <<<"$(pkg-config --cflags --libs hdf5-openmpi)"
read -r -a BLAS <<<"$(pkg-config --cflags --libs openblas)" # src/calib/hessian_acc.c: ssyrk

build() { # name sources... -- libs...
  local name=$1; shift
  echo "fuzz: building $name"
  "$CC" "${FLAGS[@]}" "$@" -lm -o "$out/$name"
}
build fuzz_safetensors "$root/tests/fuzz/fuzz_safetensors.c" "${st[@]}" "${common[@]}" "${JANSSON[@]}"
build fuzz_index "$root/tests/fuzz/fuzz_index.c" "${st[@]}" "${common[@]}" "${JANSSON[@]}"
# The configuration validates quantization parameters through the format table (src/quant),
# which pulls in the kernels and the result reader: link those from the CMake build's static
# libraries (the directory above OUT_DIR; not instrumented), fuzz config.c itself from source.
lib=$(cd "$out/.." && pwd)
read -r -a QUANT_DEPS <<<"$(pkg-config --libs hdf5-openmpi libzstd nettle openblas lapacke)"
build fuzz_config "$root/tests/fuzz/fuzz_config.c" "$root/src/config/config.c" \
  "${common[@]}" "${INIH[@]}" "$lib/libaq_quant.a" "$lib/libaq_h5.a" "$lib/libaq_h5util.a" \
  "$lib/libaq_common.a" "${QUANT_DEPS[@]}" -fopenmp
build fuzz_calib "$root/tests/fuzz/fuzz_calib.c" "$root"/src/calib/*.c "$root"/src/io/h5util/*.c "${common[@]}" "${HDF5[@]}" "${BLAS[@]}"
build fuzz_hessian "$root/tests/fuzz/fuzz_hessian.c" "$root"/src/calib/*.c "$root"/src/io/h5util/*.c "${common[@]}" "${HDF5[@]}" "${BLAS[@]}"
echo "fuzz: built in $out"
