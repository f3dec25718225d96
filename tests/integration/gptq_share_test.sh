#!/usr/bin/env bash
# gptq_share_test.sh BIN_DIR SHARED WORKDIR
# GPTQ row blocks that share one factorization (docs/SCALING.md §5f): tinystories-qwen2-4m's
# down_proj (256 rows x 768 columns) with small chunks (test hook AQ_TEST_CHUNK_BYTES) so that
# it can be cut, at 4 ranks, U sent in 24 pieces:
#  1. --dry-run shows down_proj's blocks as shared, none of the receiving blocks on rank 0;
#  2. the run's timelines (run.trace) show every sent factorization received, and the file is
#     bit-identical to one rank;
#  3. at 6 ranks (two of them only receive), SIGUSR1 while they wait for a factorization (test
#     hook AQ_TEST_FACTOR_DELAY_MS): exit 3, partial kept, no hang; --resume on 4 ranks
#     finishes it bit-identical;
#  4. a down_proj Hessian that is not positive definite: the owner of block 0 fails, the
#     receivers stop waiting; a clear error, no file, no hang.
# Exit 77 when SHARED (model, corpus) is absent.
set -uo pipefail
bin=$1 shared=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
qwen=$shared/models/tinystories-qwen2-4m
ids=$shared/corpus/calib.ids.txt
[[ -r $qwen/model.safetensors && -r $ids ]] || { echo "SKIP: $qwen or $ids missing"; exit 77; }
rm -rf "$work"; mkdir -p "$work"
# U (768 x 768 floats, 2.3 MB) in 100 KB pieces (test hook), as Dream-7B's 1.4 GB go in 256 MiB
export AQ_TEST_CHUNK_BYTES=4096 AQ_TEST_FACTOR_PIECE_BYTES=100000
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins}
py=/usr/bin/python3
fail() { echo "FAIL gptq_share_test: $*"; exit 1; }
mpi() {
  local n=$1
  shift
  timeout 300 mpirun --allow-run-as-root --oversubscribe -x AQ_TEST_CHUNK_BYTES \
    -x AQ_TEST_FACTOR_PIECE_BYTES -n "$n" "$@"
}
mpi 1 "$bin/aq-calib" --model "$qwen" --tokens "$ids" --sequences 8 --length 64 --timesteps 8 \
  --out "$work/h.h5" --hessian > "$work/calib.log" 2>&1 || fail "aq-calib --hessian"
job=(--config "$here/../../jobs/baseline.ini" --set model.path="$qwen" --set run.threads=1
     --set quant.bits=4 --set quant.group_size=64 --set quant.embeddings=true
     --set calib.missing=skip --set quant.gptq=true --set calib.path="$work/h.h5")

# 1. the plan
"$bin/aq-mpi" "${job[@]}" --dry-run --ranks 4 > "$work/dry.log" 2>&1 || fail "dry run"
grep -q 'longest first' "$work/dry.log" || fail "the 4-rank plan is not the spread one"
shared=$(grep -c 'down_proj.weight .* block [0-9]/[0-9].*factorization' "$work/dry.log")
[ "$shared" -ge 2 ] || { cat "$work/dry.log"; fail "no shared down_proj blocks at 4 ranks"; }
grep 'down_proj.weight .*factorization from' "$work/dry.log" | grep -q -- '-> rank 0 ' &&
  fail "a receiving block on rank 0"
grep 'down_proj' "$work/dry.log" | head -n 4

# 2. the run
mpi 1 "$bin/aq-mpi" "${job[@]}" --set output.path="$work/n1.h5" > "$work/n1.log" 2>&1 || fail "-n 1"
mpi 4 "$bin/aq-mpi" "${job[@]}" --set output.path="$work/n4.h5" --set run.trace="$work/tr" \
  > "$work/n4.log" 2>&1 || { tail "$work/n4.log"; fail "-n 4"; }
sent=$(cat "$work"/tr.*.tsv | awk -F'\t' '$2 == "factor_sent"' | wc -l)
recv=$(cat "$work"/tr.*.tsv | awk -F'\t' '$2 == "factor_received"' | wc -l)
[ "$sent" -ge 1 ] && [ "$recv" -ge "$sent" ] || fail "factorizations sent $sent, received $recv"
$py "$here/compare_results.py" "$work/n1.h5" "$work/n4.h5" || fail "-n 4 differs from -n 1"
echo "gptq_share_test: $sent factorizations sent, $recv received; -n 4 bit-identical to -n 1"

# 3. interrupted while receivers wait (every shared factorization sent 2 s late: test hook),
#    then resumed
AQ_TEST_FACTOR_DELAY_MS=5000 mpirun --allow-run-as-root --oversubscribe -x AQ_TEST_CHUNK_BYTES \
  -x AQ_TEST_FACTOR_PIECE_BYTES -x AQ_TEST_FACTOR_DELAY_MS -n 6 "$bin/aq-mpi" "${job[@]}" --set output.path="$work/int.h5" \
  --set run.trace="$work/it" > "$work/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # a rank waiting for a factorization (every send is 5 s late)
  cat "$work"/it.*.tsv 2>/dev/null | grep -q factor_wait && break
  sleep 0.05
done
sleep 0.3
kill -USR1 "$pid"
for _ in $(seq 1 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null && fail "the interrupted run hung"
wait "$pid"; code=$?
[ "$code" -eq 3 ] || { tail "$work/int.log"; fail "interrupted run exited $code, want 3"; }
[ -f "$work/int.h5.partial" ] && [ ! -e "$work/int.h5" ] || fail "partial/final files"
grep -Eq '^aq-mpi: error: interrupted by (rank [0-9]+: )?signal 10( on rank [0-9]+)? after ' \
  "$work/int.log" || fail "message"
waits=$(cat "$work"/it.*.tsv | awk -F'\t' '$2 == "factor_wait"' | wc -l)
got=$(cat "$work"/it.*.tsv | awk -F'\t' '$2 == "factor_received"' | wc -l)
[ "$waits" -gt "$got" ] || fail "no rank was waiting for a factorization when the signal came"
mpi 4 "$bin/aq-mpi" "${job[@]}" --set output.path="$work/int.h5" --resume > "$work/res.log" 2>&1 ||
  { tail "$work/res.log"; fail "resume"; }
$py "$here/compare_results.py" "$work/n1.h5" "$work/int.h5" || fail "resumed file differs"
echo "gptq_share_test: interrupted with $((waits - got)) rank(s) waiting for a factorization" \
  "($(grep -o 'error: .*' "$work/int.log" | head -n 1)), resumed bit-identical"

# 4. block 0's owner fails
$py "$here/gptq_check.py" poke "$work/h.h5" "$work/bad.h5" model.layers.1.mlp.down_proj.weight 1 1e6 ||
  fail "poke"
mpi 4 "$bin/aq-mpi" "${job[@]}" --set calib.path="$work/bad.h5" --set output.path="$work/bad.h5o" \
  > "$work/bad.log" 2>&1
code=$?
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] || fail "the failing run exited $code (124: hung)"
grep -q 'down_proj.weight.*not positive definite' "$work/bad.log" || { cat "$work/bad.log"; fail "message"; }
[ ! -e "$work/bad.h5o" ] || fail "a file from the failed run"
echo "gptq_share_test: failing factorization: $(grep -o 'error: .*' "$work/bad.log" | head -n 1)"
echo "gptq_share_test: ok"
