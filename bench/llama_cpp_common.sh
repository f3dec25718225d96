# bench/llama_cpp_common.sh — sourced by bench/llama_cpp_kl.sh, llama_cpp_kl_gptq.sh and
# llama_cpp_kl_mix.sh (set `me` to the script's name and pass OUTDIR as $1 first): the
# settings every run shares, the tool check, and the timing and KL helpers.
#   out bin lbin shared threads chunks ctx ncal  mpi[] ppl[]  val cal_txt cal_ids
#   now / since T0 / best LOG CMD... (smallest wall of $reps runs) / kl GGUF LOG [BASE]
# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the caller (me, reps, base)
[ $# -ge 1 ] || { echo "usage: $me OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
bin=${AQ_BIN:-$root/build}
lbin=${AQ_LLAMA_BUILD:-$root/build-llama}/bin
shared=${AQ_SHARED:-$root/../shared}
threads=${THREADS:-2} chunks=${CHUNKS:-64} ctx=${CTX:-128} ncal=${CALIB_SEQ:-64}
for t in "$bin/aq-mpi" "$bin/aq-calib" "$bin/aq-inspect" "$lbin/llama-quantize" \
  "$lbin/llama-perplexity" "$lbin/llama-imatrix"; do
  [ -x "$t" ] || { echo "$me: $t missing (AQ_BIN / AQ_LLAMA_BUILD)" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins} OMP_NUM_THREADS=$threads
# --bind-to none: mpirun binds a lone rank to one core, which would halve our threads.
mpi=(mpirun --oversubscribe --bind-to none -n 1)
val=$shared/corpus/val.txt cal_txt=$shared/corpus/calib.txt cal_ids=$shared/corpus/calib.ids.txt
ppl=(-c "$ctx" -b "$ctx" -ub "$ctx" --chunks "$chunks" -t "$threads")
mkdir -p "$out/logs"

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.3f", $1 - $2}'; }
best() { # best LOG CMD...: run CMD $reps times (output to LOG), print the smallest wall time
  local log=$1 i t0 s b=
  shift
  for ((i = 0; i < reps; i++)); do
    t0=$(now)
    "$@" > "$log" 2>&1 || return 1
    s=$(since "$t0")
    b=$(awk -v a="$b" -v s="$s" 'BEGIN { print (a == "" || s + 0 < a + 0) ? s : a }')
  done
  echo "$b"
}

kl() { # kl GGUF LOG [BASE]: KL of GGUF's logits against the F32 base (default: $base)
  # llama.cpp logs from a worker thread (common/log.cpp) that is not flushed at exit: now and
  # then the process exits with status 0 and the log stops early, the final statistics
  # missing. Rerun until they are there, up to 10 times.
  local try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    "$lbin/llama-perplexity" -m "$1" --kl-divergence-base "${3:-$base}" --kl-divergence \
      "${ppl[@]}" > "$2" 2>&1 || { echo "$me: llama-perplexity failed on $1 (see $2)" >&2; exit 1; }
    grep -q 'Same top p:' "$2" && return 0
    echo "  (llama-perplexity log of $1 incomplete, try $try; rerun)"
  done
  echo "$me: no KL statistics in $2" >&2
  exit 1
}
