#!/usr/bin/env bash
# shard_test.sh BIN_DIR MODEL WORKDIR "N1 N2 ..." [--set k=v ...]
# Row-sharding (issue 16): the job at -n 1 and at each N (oversubscribed), small chunks
# (test hook AQ_TEST_CHUNK_BYTES=4096) so that a small model's tensors can be cut into row
# blocks; --dry-run at the largest N must show row blocks, every file must be bit-identical
# to -n 1 (compare_results.py) and pass aq-inspect --verify, and the 2-D passthrough datasets
# of the largest N hold libhdf5's chunks (passthrough_chunks_check.py).  Exit 77 when MODEL
# is missing.
set -uo pipefail
bin=$1 model=$2 work=$3 ns=$4
shift 4
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -e "$model/model.safetensors" ] || [ -e "$model/model.safetensors.index.json" ] ||
  { echo "SKIP: $model missing"; exit 77; }
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL shard_test: $*"; exit 1; }
export AQ_TEST_CHUNK_BYTES=4096
job=(--config "$root/jobs/baseline.ini" --set model.path="$model" --set run.threads=1 "$@")
mpi() { mpirun --allow-run-as-root --oversubscribe -x AQ_TEST_CHUNK_BYTES -n "$1" "$bin/aq-mpi" "${@:2}"; }
last=${ns##* }
mpi "$last" "${job[@]}" --dry-run >"$work/dry.log" 2>&1 || fail "dry run at -n $last"
grep -q 'row-sharding: .* row blocks' "$work/dry.log" && grep -q ' block 1/' "$work/dry.log" ||
  { cat "$work/dry.log"; fail "no row blocks at -n $last"; }
grep ' block ' "$work/dry.log" | head -n 4
files=()
for n in 1 $ns; do
  mpi "$n" "${job[@]}" --set output.path="$work/n$n.h5" >"$work/n$n.log" 2>&1 ||
    { tail -n 20 "$work/n$n.log"; fail "run at -n $n"; }
  "$bin/aq-inspect" --verify "$work/n$n.h5" >/dev/null || fail "aq-inspect --verify -n $n"
  files+=("$work/n$n.h5")
done
/usr/bin/python3 "$root/tests/integration/compare_results.py" "${files[@]}" || fail "files differ"
# 2-D passthrough tensors (filtered by their owner, possibly in row blocks): every stored
# chunk as libhdf5 writes it; AQ_ST_PASSTHROUGH_MIN (default 0) of them at least.
/usr/bin/python3 "$root/tests/integration/passthrough_chunks_check.py" "$work/n$last.h5" \
  "${AQ_ST_PASSTHROUGH_MIN:-0}" || fail "passthrough chunks differ from libhdf5's"
echo "shard_test: ok (-n 1 $ns bit-identical, row blocks at -n $last)"
