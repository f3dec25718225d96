#!/usr/bin/env bash
# llama_cpp_kl_gptq.sh OUTDIR — issue 15 item 3 in llama.cpp's evaluator: our GPTQ'd GGUFs
# (quant.gptq = true, Hessians from aq-calib --hessian) with CLEAN Hessians (aq-calib --clean,
# T = 1: the inputs an autoregressive model really sees) and with MASKED ones (T = 4), beside
# our search with clean calibration and llama-quantize --pure with/without an imatrix from
# llama-imatrix, all scored by `llama-perplexity --kl-divergence` against the F32 export on
# held-out val.txt. Commands and approach of bench/llama_cpp_kl.sh. Not in CI (~5-10 minutes on
# 2 busy cores). docs/LLAMA_CPP.md "GPTQ", docs/BITS.md §4.
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
#   DAMP            extra quant.gptq_damp values at Q2_K (clean Hessians), also scored on the
#                   calibration text calib.txt to choose the default on data not in the table
#                                                          ["0.1"]
#   REPEATS         quantization runs per GGUF, the smallest wall time counts    [1]
#   QWEN2_FORMATS   FORMAT:LLAMA_TYPE list for qwen2-4m (empty: skipped)
#                                          ["q2_k:Q2_K q3_k:Q3_K_S q4_k:Q4_K_S q6_k:Q6_K"]
#   L656K_FORMATS   the same for 656k-llama (empty: skipped)         ["q4_0:Q4_0 q5_0:Q5_0"]
#                   (e.g. QWEN2_FORMATS=q2_k:Q2_K L656K_FORMATS= BF16_EMB=0 DAMP= for one row)
#   BF16_EMB        1: also qwen2 Q2_K and Q4_K with token_embd / output left BF16 on both
#                   sides (ours quant.embeddings = false; llama-quantize
#                   --token-embedding-type bf16 --output-tensor-type bf16): only the matrices
#                   GPTQ handles are quantized (the setup of docs/BITS.md §4's first run)  [1]
#
# Wall time of GPTQ = aq-calib --clean --hessian + the job; of llama.cpp = llama-imatrix +
# llama-quantize. Writes OUTDIR/rows.tsv, OUTDIR/logs/, OUTDIR/table.md and results.json via
# bench/llama_cpp_kl_gptq_table.py.
set -euo pipefail
me=llama_cpp_kl_gptq
# shellcheck source=bench/llama_cpp_common.sh
. "$(dirname "$0")/llama_cpp_common.sh"
reps=${REPEATS:-1} damps=${DAMP-0.1} bf16emb=${BF16_EMB:-1}
rows=$out/rows.tsv
printf 'model\tformat\tvariant\tgguf\tkl_log\tquant_log\tquant_s\texport_s\teval\n' > "$rows"

row() { # row NAME FMT VAR GGUF_TAG KL_TAG QS ES EVAL
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4.gguf" "logs/$5.kl.log" \
    "logs/$4.quant.log" "$6" "$7" "$8" >> "$rows"
}

ours() { # ours MODEL_NAME DIR FORMAT VARIANT [--set ...]: job, export, KL on val.txt
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
  row "$name" "$fmt" "$var" "$tag" "$tag" "$qs" "$es" val
  echo "  $tag: quantized in $qs s, exported in $es s"
}

theirs() { # theirs MODEL_NAME FORMAT TYPE VARIANT [--imatrix FILE]: llama-quantize --pure, KL
  local name=$1 fmt=$2 type=$3 var=$4; shift 4
  local tag=${name}_${fmt}_${var} qs
  qs=$(best "$out/logs/$tag.quant.log" "$lbin/llama-quantize" --pure "$@" "$f32" \
    "$out/$tag.gguf" "$type" "$threads") || { tail -3 "$out/logs/$tag.quant.log" >&2; exit 1; }
  kl "$out/$tag.gguf" "$out/logs/$tag.kl.log"
  row "$name" "$fmt" "$var" "$tag" "$tag" "$qs" "" val
  echo "  $tag: quantized in $qs s"
}

calib_kl() { # calib_kl MODEL_NAME FORMAT VARIANT: the GGUF of VARIANT scored on calib.txt
  local tag=${1}_${2}_${3}
  kl "$out/$tag.gguf" "$out/logs/$tag.calibtext.kl.log" "$cbase"
  row "$1" "$2" "$3" "$tag" "$tag.calibtext" 0 "" calib
}

bench_model() { # bench_model NAME DIR FORMAT:LLAMA_TYPE ...
  local name=$1 dir=$2 t0 cs; shift 2
  echo "== $name"
  f32=$out/${name}_f32.gguf base=$out/${name}_f32.kld cbase=$out/${name}_f32_calibtext.kld
  "$bin/aq-inspect" --export "$f32" --model "$dir" --dtype f32 > /dev/null
  "$lbin/llama-perplexity" -m "$f32" -f "$val" --kl-divergence-base "$base" "${ppl[@]}" \
    > "$out/logs/${name}_f32.ppl.log" 2>&1
  # Same calibration text on both sides (bench/llama_cpp_kl.sh): CALIB_SEQ windows of CTX ids
  # from calib.ids.txt for aq-calib, calib.txt in CALIB_SEQ chunks of CTX for llama-imatrix.
  # One clean --hessian file serves both our search (its statistics) and GPTQ (its Hessians).
  t0=$(now)
  "${mpi[@]}" "$bin/aq-calib" --model "$dir" --clean --hessian --tokens "$cal_ids" \
    --sequences "$ncal" --length "$ctx" --out "$out/${name}_clean.h5" \
    > "$out/logs/${name}_calib_clean.log" 2>&1
  cs=$(since "$t0")
  echo "  aq-calib --clean --hessian: $cs s"
  printf '%s\tcalib\taq-calib-clean-hessian\t\t\tlogs/%s_calib_clean.log\t%s\t\t\n' "$name" \
    "$name" "$cs" >> "$rows"
  t0=$(now)
  "${mpi[@]}" "$bin/aq-calib" --model "$dir" --timesteps 4 --hessian --tokens "$cal_ids" \
    --sequences "$ncal" --length "$ctx" --out "$out/${name}_masked.h5" \
    > "$out/logs/${name}_calib_masked.log" 2>&1
  cs=$(since "$t0")
  echo "  aq-calib --hessian (masked, T = 4): $cs s"
  printf '%s\tcalib\taq-calib-masked-hessian\t\t\tlogs/%s_calib_masked.log\t%s\t\t\n' "$name" \
    "$name" "$cs" >> "$rows"
  t0=$(now)
  "$lbin/llama-imatrix" -m "$f32" -f "$cal_txt" -c "$ctx" -b "$ctx" -ub "$ctx" \
    --chunks "$ncal" -t "$threads" --process-output -o "$out/${name}_imatrix.gguf" \
    > "$out/logs/${name}_imatrix.log" 2>&1
  cs=$(since "$t0")
  echo "  llama-imatrix: $cs s"
  printf '%s\tcalib\tllama-imatrix\t\t\tlogs/%s_imatrix.log\t%s\t\t\n' "$name" "$name" \
    "$cs" >> "$rows"
  local spec fmt type d clean masked
  clean=(--set calib.path="$out/${name}_clean.h5" --set timegroups.count=1 --set calib.missing=skip)
  masked=(--set calib.path="$out/${name}_masked.h5" --set calib.missing=skip)
  for spec in "$@"; do
    fmt=${spec%%:*} type=${spec#*:}
    ours "$name" "$dir" "$fmt" aq_clean "${clean[@]}"
    ours "$name" "$dir" "$fmt" gptq_clean "${clean[@]}" --set quant.gptq=true
    ours "$name" "$dir" "$fmt" gptq_masked "${masked[@]}" --set quant.gptq=true
    theirs "$name" "$fmt" "$type" lq
    theirs "$name" "$fmt" "$type" lq_imatrix --imatrix "$out/${name}_imatrix.gguf"
    if [ "$fmt" = q2_k ] && [ -n "$damps" ]; then
      # Damping on text not in the table: the F32 base on calib.txt (the Hessians' own text).
      [ -f "$cbase" ] || "$lbin/llama-perplexity" -m "$f32" -f "$cal_txt" \
        --kl-divergence-base "$cbase" "${ppl[@]}" > "$out/logs/${name}_f32.calibtext.log" 2>&1
      calib_kl "$name" "$fmt" gptq_clean
      calib_kl "$name" "$fmt" aq_clean
      calib_kl "$name" "$fmt" lq_imatrix
      for d in $damps; do
        ours "$name" "$dir" "$fmt" "gptq_clean_d$d" "${clean[@]}" --set quant.gptq=true \
          --set quant.gptq_damp="$d"
        calib_kl "$name" "$fmt" "gptq_clean_d$d"
      done
    fi
    if [ "$bf16emb" = 1 ] && [ "$name" = qwen2 ] && { [ "$fmt" = q2_k ] || [ "$fmt" = q4_k ]; }; then
      local keep=(--set quant.embeddings=false) lkeep=(--token-embedding-type bf16 --output-tensor-type bf16)
      ours "$name" "$dir" "$fmt" aq_clean_bf16emb "${clean[@]}" "${keep[@]}"
      ours "$name" "$dir" "$fmt" gptq_clean_bf16emb "${clean[@]}" --set quant.gptq=true "${keep[@]}"
      ours "$name" "$dir" "$fmt" gptq_masked_bf16emb "${masked[@]}" --set quant.gptq=true "${keep[@]}"
      theirs "$name" "$fmt" "$type" lq_bf16emb "${lkeep[@]}"
      theirs "$name" "$fmt" "$type" lq_imatrix_bf16emb "${lkeep[@]}" --imatrix "$out/${name}_imatrix.gguf"
    fi
  done
}

start=$(now)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  host: $(hostname)  cores: $(nproc)"
  echo "aq-mpi: $(git -C "$root" rev-parse --short HEAD)  llama.cpp: $("$lbin/llama-perplexity" --version 2>&1 | grep -m1 version || true)"
  echo "threads $threads, $chunks chunks x $ctx tokens of val.txt, calibration $ncal x $ctx tokens, repeats $reps"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/env.txt"
qf=${QWEN2_FORMATS-q2_k:Q2_K q3_k:Q3_K_S q4_k:Q4_K_S q6_k:Q6_K} lf=${L656K_FORMATS-q4_0:Q4_0 q5_0:Q5_0}
# shellcheck disable=SC2086 # word splitting of the format lists is intended
[ -z "$qf" ] || bench_model qwen2 "$shared/models/tinystories-qwen2-4m" $qf
# shellcheck disable=SC2086
[ -z "$lf" ] || damps='' bench_model 656k "$shared/models/tinystories-656k-llama" $lf
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); total $(since "$start") s" >> "$out/env.txt"
rm -f "$out"/*.h5 "$out"/*.kld
PYTHONPATH=$shared/llama.cpp/gguf-py /usr/bin/python3 "$root/bench/llama_cpp_kl_gptq_table.py" "$out"
echo "llama_cpp_kl_gptq: $out/table.md ($(since "$start") s)"
