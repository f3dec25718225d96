#!/usr/bin/env bash
# llama_cpp_kl.sh OUTDIR — issue 13 item 5: our ggml-format GGUFs against llama-quantize's,
# scored by llama.cpp's own evaluator (`llama-perplexity --kl-divergence` against the F32
# logits) on held-out text. Not in CI (~10 minutes on 2 busy cores). docs/LLAMA_CPP.md.
#
# Environment (defaults in brackets):
#   AQ_BIN          aq-mpi build directory                 [<repo>/build]
#   AQ_LLAMA_BUILD  llama.cpp build (bin/llama-quantize, llama-perplexity, llama-imatrix)
#                                                          [<repo>/build-llama]
#   AQ_SHARED       models and corpus                      [<repo>/../shared]
#   THREADS         threads of every tool, both sides      [2]
#   CHUNKS          validation chunks of CTX tokens        [64]
#   CTX             context / calibration window           [128]
#   CALIB_SEQ       calibration windows (aq-calib sequences = llama-imatrix chunks)  [64]
#   MASKED          1: also our masked (diffusion-style) calibration, T = 4       [1]
#   REPEATS         quantization runs per GGUF, the smallest wall time counts    [3]
#   EVAL            text the KL is scored on: val (held out) or calib (the calibration
#                   text itself: for choosing encoder settings without fitting val)  [val]
#   ONLY            space-separated model:format pairs to run (e.g. "qwen2:q2_k 656k:q4_0")
#                   [all]
#
# For each model and format: ours uncalibrated, ours with clean calibration (aq-calib --clean),
# ours with masked calibration (the embedding has no statistics on either side: calib.missing =
# skip quantizes it unweighted, llama-imatrix records none for token_embd), llama-quantize --pure without and with an imatrix from
# llama-imatrix on the same calibration text. Writes OUTDIR/rows.tsv (one line per GGUF),
# OUTDIR/logs/, and OUTDIR/table.md via bench/llama_cpp_kl_table.py.
set -euo pipefail
me=llama_cpp_kl
# shellcheck source=bench/llama_cpp_common.sh
. "$(dirname "$0")/llama_cpp_common.sh"
masked=${MASKED:-1} reps=${REPEATS:-3} eval=${EVAL:-val} only=${ONLY:-}
case $eval in
  val) ;;
  calib) val=$cal_txt ;;
  *) echo "llama_cpp_kl: EVAL=$eval (val or calib)" >&2; exit 2 ;;
esac
rows=$out/rows.tsv
printf 'model\tformat\tvariant\tgguf\tkl_log\tquant_log\tquant_s\texport_s\n' > "$rows"

ours() { # ours MODEL_NAME DIR FORMAT VARIANT [--set ...]: job, export, KL
  local name=$1 dir=$2 fmt=$3 var=$4; shift 4
  local tag=${name}_${fmt}_${var} t0 qs es
  qs=$(best "$out/logs/$tag.quant.log" "${mpi[@]}" "$bin/aq-mpi" --config "$root/jobs/ggml_q4_k.ini" \
    --set model.path="$dir" --set quant.format="$fmt" --set quant.embeddings=true \
    --set run.threads="$threads" --set output.path="$out/$tag.h5" "$@") ||
    { grep -m1 error "$out/logs/$tag.quant.log" >&2; exit 1; }
  t0=$(now)
  "$bin/aq-inspect" --export "$out/$tag.gguf" --model "$dir" "$out/$tag.h5" > /dev/null
  es=$(since "$t0")
  kl "$out/$tag.gguf" "$out/logs/$tag.kl.log"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$fmt" "$var" "$tag.gguf" "logs/$tag.kl.log" \
    "logs/$tag.quant.log" "$qs" "$es" >> "$rows"
  echo "  $tag: quantized in $qs s, exported in $es s"
}

theirs() { # theirs MODEL_NAME FORMAT TYPE VARIANT [--imatrix FILE]: llama-quantize --pure, KL
  local name=$1 fmt=$2 type=$3 var=$4; shift 4
  local tag=${name}_${fmt}_${var} qs
  qs=$(best "$out/logs/$tag.quant.log" "$lbin/llama-quantize" --pure "$@" "$f32" \
    "$out/$tag.gguf" "$type" "$threads") || { tail -3 "$out/logs/$tag.quant.log" >&2; exit 1; }
  kl "$out/$tag.gguf" "$out/logs/$tag.kl.log"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$fmt" "$var" "$tag.gguf" "logs/$tag.kl.log" \
    "logs/$tag.quant.log" "$qs" "" >> "$rows"
  echo "  $tag: quantized in $qs s"
}

bench_model() { # bench_model NAME DIR FORMAT:LLAMA_TYPE ...
  local name=$1 dir=$2 t0 cs spec want=(); shift 2
  for spec in "$@"; do # ONLY: keep the formats asked for
    [ -z "$only" ] || [[ " $only " == *" $name:${spec%%:*} "* ]] && want+=("$spec")
  done
  [ ${#want[@]} -gt 0 ] || return 0
  set -- "${want[@]}"
  echo "== $name"
  f32=$out/${name}_f32.gguf base=$out/${name}_f32.kld
  "$bin/aq-inspect" --export "$f32" --model "$dir" --dtype f32 > /dev/null
  "$lbin/llama-perplexity" -m "$f32" -f "$val" --kl-divergence-base "$base" "${ppl[@]}" \
    > "$out/logs/${name}_f32.ppl.log" 2>&1
  # Calibration on the same text: aq-calib reads CALIB_SEQ windows of CTX token ids (each from
  # a story's BOS), llama-imatrix tokenizes calib.txt (the same stories as text) into CALIB_SEQ
  # chunks of CTX tokens. --process-output: llama-imatrix also measures the output matrix's
  # input, which aq-calib does for lm_head.
  t0=$(now)
  "${mpi[@]}" "$bin/aq-calib" --model "$dir" --clean --tokens "$cal_ids" --sequences "$ncal" \
    --length "$ctx" --out "$out/${name}_clean.h5" > "$out/logs/${name}_calib_clean.log" 2>&1
  cs=$(since "$t0")
  echo "  aq-calib --clean: $cs s"
  printf '%s\tcalib\taq-calib-clean\t\t\tlogs/%s_calib_clean.log\t%s\t\n' "$name" "$name" \
    "$cs" >> "$rows"
  if [ "$masked" = 1 ]; then
    t0=$(now)
    "${mpi[@]}" "$bin/aq-calib" --model "$dir" --timesteps 4 --tokens "$cal_ids" --sequences "$ncal" \
      --length "$ctx" --out "$out/${name}_masked.h5" > "$out/logs/${name}_calib_masked.log" 2>&1
    echo "  aq-calib masked (T = 4): $(since "$t0") s"
  fi
  t0=$(now)
  "$lbin/llama-imatrix" -m "$f32" -f "$cal_txt" -c "$ctx" -b "$ctx" -ub "$ctx" \
    --chunks "$ncal" -t "$threads" --process-output -o "$out/${name}_imatrix.gguf" \
    > "$out/logs/${name}_imatrix.log" 2>&1
  cs=$(since "$t0")
  echo "  llama-imatrix: $cs s"
  printf '%s\tcalib\tllama-imatrix\t\t\tlogs/%s_imatrix.log\t%s\t\n' "$name" "$name" \
    "$cs" >> "$rows"
  local fmt type
  for spec in "$@"; do
    fmt=${spec%%:*} type=${spec#*:}
    ours "$name" "$dir" "$fmt" aq
    ours "$name" "$dir" "$fmt" aq_clean --set calib.path="$out/${name}_clean.h5" \
      --set timegroups.count=1 --set calib.missing=skip
    [ "$masked" != 1 ] ||
      ours "$name" "$dir" "$fmt" aq_masked --set calib.path="$out/${name}_masked.h5" \
        --set calib.missing=skip
    theirs "$name" "$fmt" "$type" lq
    theirs "$name" "$fmt" "$type" lq_imatrix --imatrix "$out/${name}_imatrix.gguf"
  done
}

start=$(now)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  host: $(hostname)  cores: $(nproc)"
  echo "aq-mpi: $(git -C "$root" rev-parse --short HEAD)  llama.cpp: $("$lbin/llama-perplexity" --version 2>&1 | grep -m1 version || true)"
  echo "threads $threads, $chunks chunks x $ctx tokens of $(basename "$val"), calibration $ncal x $ctx tokens"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/env.txt"
bench_model qwen2 "$shared/models/tinystories-qwen2-4m" q2_k:Q2_K q3_k:Q3_K_S q4_k:Q4_K_S q6_k:Q6_K
bench_model 656k "$shared/models/tinystories-656k-llama" q4_0:Q4_0 q5_0:Q5_0 q8_0:Q8_0
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); total $(since "$start") s" >> "$out/env.txt"
rm -f "$out"/*.h5 "$out"/*.kld
PYTHONPATH=$shared/llama.cpp/gguf-py /usr/bin/python3 "$root/bench/llama_cpp_kl_table.py" "$out"
echo "llama_cpp_kl: $out/table.md ($(since "$start") s)"
