#!/usr/bin/env bash
# llama_cpp_speed.sh OUTDIR — issue 13 item 5's speed comparison at a size where quantizing,
# not starting up, is what is timed: aq-mpi (+ aq-inspect --export) against llama-quantize at
# equal threads on a 146 M-parameter Qwen2-architecture checkpoint with RANDOM weights
# (bench/make_wide_qwen2.py: tinystories-qwen2-4m's tokenizer, hidden 1024, FFN 2816, 12
# layers). Speed only: the weights are random, so no KL is measured here (quality is
# bench/llama_cpp_kl.sh on the real models). Not in CI (~15 minutes here). docs/LLAMA_CPP.md.
#
# Per format, alternating ours / theirs REPEATS times (smallest counts), both without and with
# importance (ours: aq-calib --clean statistics; theirs: an imatrix from llama-imatrix on the
# same calibration text; making either is not timed). Each run is timed by /usr/bin/time:
# wall seconds and CPU seconds (user + sys of the tool and its children), since the CPU time
# is what a shared machine's load does not inflate. Ours = the job (mpirun -n 1, run.threads =
# THREADS) + the GGUF export; theirs = llama-quantize --pure F32.gguf OUT TYPE THREADS.
#
# Environment: AQ_BIN, AQ_LLAMA_BUILD, AQ_SHARED, THREADS [2], CALIB_SEQ [16], CTX [128] as in
# bench/llama_cpp_kl.sh; REPEATS [2]; FORMATS [q2_k:Q2_K q3_k:Q3_K_S q4_k:Q4_K_S q6_k:Q6_K
# q8_0:Q8_0]; WIDE (model directory, made if absent) [OUTDIR/wide].
set -euo pipefail
me=llama_cpp_speed
CALIB_SEQ=${CALIB_SEQ:-16}
# shellcheck source=bench/llama_cpp_common.sh
. "$(dirname "$0")/llama_cpp_common.sh"
reps=${REPEATS:-2} wide=${WIDE:-$out/wide}
formats=${FORMATS:-q2_k:Q2_K q3_k:Q3_K_S q4_k:Q4_K_S q6_k:Q6_K q8_0:Q8_0}
rows=$out/rows.tsv
printf 'format\tvariant\trep\twall_s\tcpu_s\texport_wall_s\texport_cpu_s\tload\n' > "$rows"

timed() { # timed LOG CMD...: run CMD (output to LOG), print "wall cpu" from /usr/bin/time
  local log=$1
  shift
  /usr/bin/time -o "$log.time" -f '%e %U %S' "$@" > "$log" 2>&1 ||
    { echo "$me: failed: $* (see $log)" >&2; tail -3 "$log" >&2; exit 1; }
  awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$log.time"
}

row() { # row FORMAT VARIANT REP "WALL CPU" ["EWALL ECPU"]
  local e=${5:-}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4% *}" "${4#* }" "${e% *}" \
    "${e#* }" "$(cut -d' ' -f1 /proc/loadavg)" >> "$rows"
}

ours() { # ours FORMAT VARIANT REP [--set ...]
  local fmt=$1 var=$2 rep=$3 tag=${1}_${2} q e
  shift 3
  q=$(timed "$out/logs/$tag.quant.log" "${mpi[@]}" "$bin/aq-mpi" \
    --config "$root/jobs/ggml_q4_k.ini" --set model.path="$wide" --set quant.format="$fmt" \
    --set quant.embeddings=true --set run.threads="$threads" --set output.path="$out/$tag.h5" "$@")
  e=$(timed "$out/logs/$tag.export.log" "$bin/aq-inspect" --export "$out/$tag.gguf" \
    --model "$wide" "$out/$tag.h5")
  row "$fmt" "$var" "$rep" "$q" "$e"
  echo "  $tag rep $rep: job $q, export $e (wall s, cpu s)"
}

theirs() { # theirs FORMAT TYPE VARIANT REP [--imatrix FILE]
  local fmt=$1 type=$2 var=$3 rep=$4 tag=${1}_${3} q
  shift 4
  q=$(timed "$out/logs/$tag.quant.log" "$lbin/llama-quantize" --pure "$@" "$f32" \
    "$out/$tag.gguf" "$type" "$threads")
  row "$fmt" "$var" "$rep" "$q"
  echo "  $tag rep $rep: $q (wall s, cpu s)"
}

start=$(now)
[ -f "$wide/model.safetensors" ] ||
  /usr/bin/python3 "$root/bench/make_wide_qwen2.py" "$shared/models/tinystories-qwen2-4m" "$wide"
f32=$out/wide_f32.gguf
"$bin/aq-inspect" --export "$f32" --model "$wide" --dtype f32 > /dev/null
"${mpi[@]}" "$bin/aq-calib" --model "$wide" --clean --tokens "$cal_ids" --sequences "$ncal" \
  --length "$ctx" --out "$out/wide_clean.h5" > "$out/logs/calib_clean.log" 2>&1
"$lbin/llama-imatrix" -m "$f32" -f "$cal_txt" -c "$ctx" -b "$ctx" -ub "$ctx" --chunks "$ncal" \
  -t "$threads" --process-output -o "$out/wide_imatrix.gguf" > "$out/logs/imatrix.log" 2>&1
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  host: $(hostname)  cores: $(nproc)"
  echo "aq-mpi: $(git -C "$root" rev-parse --short HEAD)  llama.cpp: $("$lbin/llama-perplexity" --version 2>&1 | grep -m1 version || true)"
  echo "model: $wide ($(du -m "$wide/model.safetensors" | cut -f1) MB bf16), threads $threads, repeats $reps"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/env.txt"
cal=(--set calib.path="$out/wide_clean.h5" --set timegroups.count=1 --set calib.missing=skip)
for ((r = 1; r <= reps; r++)); do
  for spec in $formats; do
    fmt=${spec%%:*} type=${spec#*:}
    echo "== $fmt rep $r"
    ours "$fmt" aq "$r"
    theirs "$fmt" "$type" lq "$r"
    ours "$fmt" aq_clean "$r" "${cal[@]}"
    theirs "$fmt" "$type" lq_imatrix "$r" --imatrix "$out/wide_imatrix.gguf"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); total $(since "$start") s" >> "$out/env.txt"
rm -f "$out"/*.h5 "$out"/*_aq*.gguf "$out"/*_lq*.gguf
/usr/bin/python3 "$root/bench/llama_cpp_speed_table.py" "$out" > "$out/table.md"
cat "$out/table.md"
echo "$me: $out/table.md ($(since "$start") s)"
