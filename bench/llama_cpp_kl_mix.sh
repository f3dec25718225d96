#!/usr/bin/env bash
# llama_cpp_kl_mix.sh OUTDIR — issue 13 item 2: our budget mixes of ggml formats
# (quant.budget_bits with quant.format = q2_k) against llama-quantize's default mixes Q2_K,
# Q3_K_M, Q4_K_M (fixed rules: attn_v, ffn_down, output bumped; no --pure) at the same file
# size, on tinystories-qwen2-4m, scored by `llama-perplexity --kl-divergence` against the F32
# logits on held-out text. Not in CI. docs/LLAMA_CPP.md "Budget mixes". The commands are those
# of bench/llama_cpp_kl.sh (same calibration text, same scoring), with one run per GGUF.
#
# Environment (defaults in brackets): AQ_BIN [<repo>/build], AQ_LLAMA_BUILD
# [<repo>/build-llama], AQ_SHARED [<repo>/../shared], THREADS [2], CHUNKS [64], CTX [128],
# CALIB_SEQ [64], MIXES ["Q2_K Q3_K_M Q4_K_M"], LKL_SEQ [8] (sequences of calib.ids.txt for the
# layer KL), GPTQ [0] (1: also "GPTQ + layer KL": the same with quant.gptq = true and clean
# Hessians from aq-calib --clean --hessian, the layer KL measured on GPTQ'd uniform results).
#
# Per mix: llama-quantize without and with --imatrix (llama-imatrix on calib.txt); the budget
# = bits/weight of the quantized (non-F32) tensors of llama-quantize's file, read with gguf-py
# (bench/llama_cpp_kl_mix.py budget); ours at that budget uncalibrated and with clean
# calibration (aq-calib --clean, timegroups.count = 1, calib.missing = skip), and with clean
# calibration + layer KL: the budget's sensitivity from `aq-eval --layer-kl --clean` (each
# tensor's next-token KL with only it quantized, on calibration text) run once over uniform
# results of the job in every format of the chain (q2_k q3_k q4_k q5_k q6_k q8_0, clean
# calibration, embeddings and output included), passed as quant.budget_kl_path.
set -euo pipefail
me=llama_cpp_kl_mix
# shellcheck source=bench/llama_cpp_common.sh
. "$(dirname "$0")/llama_cpp_common.sh"
mixes=${MIXES:-Q2_K Q3_K_M Q4_K_M}
export PYTHONPATH=$shared/llama.cpp/gguf-py
py() { /usr/bin/python3 "$root/bench/llama_cpp_kl_mix.py" "$@"; }
name=qwen2 dir=$shared/models/tinystories-qwen2-4m
rows=$out/rows.tsv
printf 'mix\tvariant\tgguf\tkl_log\tquant_log\tbudget\n' > "$rows"
f32=$out/${name}_f32.gguf base=$out/${name}_f32.kld

row() { # row MIX VARIANT TAG BUDGET
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3.gguf" "logs/$3.kl.log" "logs/$3.quant.log" \
    "$4" >> "$rows"
}

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  host: $(hostname)  cores: $(nproc)"
  echo "aq-mpi: $(git -C "$root" rev-parse --short HEAD)  llama.cpp: $("$lbin/llama-perplexity" --version 2>&1 | grep -m1 version || true)"
  echo "threads $threads, $chunks chunks x $ctx tokens of val.txt, calibration $ncal x $ctx tokens"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/env.txt"
"$bin/aq-inspect" --export "$f32" --model "$dir" --dtype f32 > /dev/null
"$lbin/llama-perplexity" -m "$f32" -f "$val" --kl-divergence-base "$base" "${ppl[@]}" \
  > "$out/logs/${name}_f32.ppl.log" 2>&1
"${mpi[@]}" "$bin/aq-calib" --model "$dir" --clean --tokens "$cal_ids" --sequences "$ncal" \
  --length "$ctx" --out "$out/${name}_clean.h5" > "$out/logs/${name}_calib_clean.log" 2>&1
"$lbin/llama-imatrix" -m "$f32" -f "$cal_txt" -c "$ctx" -b "$ctx" -ub "$ctx" \
  --chunks "$ncal" -t "$threads" --process-output -o "$out/${name}_imatrix.gguf" \
  > "$out/logs/${name}_imatrix.log" 2>&1
# the layer KL: uniform results in every format of the chain, one aq-eval over all of them
lkl_seq=${LKL_SEQ:-8} gptq=${GPTQ:-0}
clean=(--set calib.path="$out/${name}_clean.h5" --set timegroups.count=1 --set calib.missing=skip)
layer_kl() { # layer_kl TAG OUT.json [--set ...]: uniform results of the chain, then aq-eval
  local tag=$1 json=$2 f t0 uni=()
  shift 2
  t0=$(now)
  for f in q2_k q3_k q4_k q5_k q6_k q8_0; do
    "${mpi[@]}" "$bin/aq-mpi" --config "$root/jobs/ggml_q4_k.ini" --set model.path="$dir" \
      --set quant.format=$f --set quant.embeddings=true --set run.threads="$threads" \
      --set output.path="$out/${tag}_$f.h5" "$@" > "$out/logs/${tag}_$f.quant.log" 2>&1 \
      || { grep -m1 error "$out/logs/${tag}_$f.quant.log" >&2; exit 1; }
    uni+=(--result "$out/${tag}_$f.h5")
  done
  "${mpi[@]}" "$bin/aq-eval" --model "$dir" --clean --tokens "$cal_ids" --sequences "$lkl_seq" \
    --length "$ctx" "${uni[@]}" --layer-kl "$json" > "$out/logs/${tag}_layer_kl.log" 2>&1 \
    || { tail -3 "$out/logs/${tag}_layer_kl.log" >&2; exit 1; }
  echo "layer KL ($tag): $(grep -c '"kl"' "$json") entries, $lkl_seq x $ctx tokens, $(since "$t0") s" \
    | tee -a "$out/env.txt"
}
lkl=$out/${name}_layer_kl.json
layer_kl "${name}_uniform" "$lkl" "${clean[@]}"
vars="aq aq_clean aq_clean_kl"
if [ "$gptq" = 1 ]; then
  "${mpi[@]}" "$bin/aq-calib" --model "$dir" --clean --hessian --tokens "$cal_ids" \
    --sequences "$ncal" --length "$ctx" --out "$out/${name}_clean_hessian.h5" \
    > "$out/logs/${name}_calib_clean_hessian.log" 2>&1
  hess=(--set calib.path="$out/${name}_clean_hessian.h5" --set timegroups.count=1
    --set calib.missing=skip --set quant.gptq=true)
  glkl=$out/${name}_layer_kl_gptq.json
  layer_kl "${name}_uniform_gptq" "$glkl" "${hess[@]}"
  vars="$vars aq_gptq_kl"
fi
for mix in $mixes; do
  echo "== $mix"
  for var in lq lq_imatrix; do
    tag=${name}_${mix}_$var
    im=()
    [ $var = lq ] || im=(--imatrix "$out/${name}_imatrix.gguf")
    "$lbin/llama-quantize" "${im[@]}" "$f32" "$out/$tag.gguf" "$mix" "$threads" \
      > "$out/logs/$tag.quant.log" 2>&1 || { tail -3 "$out/logs/$tag.quant.log" >&2; exit 1; }
    kl "$out/$tag.gguf" "$out/logs/$tag.kl.log"
    row "$mix" $var "$tag" ""
    echo "  $tag: $(py types "$out/$tag.gguf")"
  done
  # the budget: llama-quantize's bits/weight over its quantized tensors (with imatrix: the
  # smaller of the two files, should they differ)
  b1=$(py budget "$out/${name}_${mix}_lq.gguf") b2=$(py budget "$out/${name}_${mix}_lq_imatrix.gguf")
  budget=$(awk -v a="$b1" -v b="$b2" 'BEGIN { printf "%.6f", a < b ? a : b }')
  echo "  budget $budget bits/weight (llama-quantize: $b1 / $b2 with imatrix)"
  for var in $vars; do
    tag=${name}_${mix}_$var
    case $var in
      aq) cal=() ;;
      aq_clean) cal=("${clean[@]}") ;;
      aq_clean_kl) cal=("${clean[@]}" --set quant.budget_kl_path="$lkl") ;;
      aq_gptq_kl) cal=("${hess[@]}" --set quant.budget_kl_path="$glkl") ;;
    esac
    "${mpi[@]}" "$bin/aq-mpi" --config "$root/jobs/ggml_q4_k.ini" --set model.path="$dir" \
      --set quant.format=q2_k --set quant.budget_bits="$budget" --set quant.embeddings=true \
      --set run.threads="$threads" --set output.path="$out/$tag.h5" "${cal[@]}" \
      > "$out/logs/$tag.quant.log" 2>&1 || { grep -m1 error "$out/logs/$tag.quant.log" >&2; exit 1; }
    "$bin/aq-inspect" --export "$out/$tag.gguf" --model "$dir" "$out/$tag.h5" > /dev/null
    kl "$out/$tag.gguf" "$out/logs/$tag.kl.log"
    row "$mix" $var "$tag" "$budget"
    echo "  $tag: $(grep -m1 '^formats' "$out/logs/$tag.quant.log")"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/env.txt"
rm -f "$out"/*.h5 "$out"/*.kld
py table "$out"
