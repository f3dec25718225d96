#!/usr/bin/env bash
# qwen2-4m Q2_K: GPTQ clean with the lm_head Hessian (after) vs the same file without it (before),
# steps and settings of bench/llama_cpp_kl_gptq.sh (threads 2, 64 chunks x 128 of val.txt, 64 x 128 calib)
set -euo pipefail
root=${AQ_ROOT:-/work/u-headgptq} bin=$root/build lbin=/work/llama-build/bin shared=/work/shared out=${1:-/tmp/uhg/m}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_PLUGIN_PATH=$bin/plugins OMP_NUM_THREADS=2
mpi=(mpirun --oversubscribe --bind-to none -n 1)
dir=$shared/models/tinystories-qwen2-4m
ppl=(-c 128 -b 128 -ub 128 --chunks 64 -t 2)
f32=$out/f32.gguf base=$out/f32.kld
"$bin/aq-inspect" --export "$f32" --model "$dir" --dtype f32 > /dev/null
"$lbin/llama-perplexity" -m "$f32" -f $shared/corpus/val.txt --kl-divergence-base "$base" "${ppl[@]}" > $out/f32.log 2>&1
"${mpi[@]}" "$bin/aq-calib" --model "$dir" --clean --hessian --tokens $shared/corpus/calib.ids.txt \
  --sequences 64 --length 128 --out "$out/clean.h5" > $out/calib.log 2>&1
/usr/bin/python3 $root/tests/integration/gptq_check.py drop $out/clean.h5 $out/clean_nohead.h5 lm_head.weight
one() { # one TAG CALIB [--set ...]
  local tag=$1 c=$2; shift 2
  "${mpi[@]}" "$bin/aq-mpi" --config "$root/jobs/ggml_q4_k.ini" --set model.path="$dir" --set quant.format=q2_k \
    --set quant.embeddings=true --set run.threads=2 --set output.path="$out/$tag.h5" \
    --set calib.path="$c" --set timegroups.count=1 --set calib.missing=skip "$@" > $out/$tag.quant.log 2>&1
  "$bin/aq-inspect" --export "$out/$tag.gguf" --model "$dir" "$out/$tag.h5" > /dev/null
  for try in 1 2 3 4 5; do
    "$lbin/llama-perplexity" -m "$out/$tag.gguf" --kl-divergence-base "$base" --kl-divergence "${ppl[@]}" > $out/$tag.kl.log 2>&1
    grep -q 'Same top p:' $out/$tag.kl.log && break
  done
  echo "$tag: $(grep -E 'Mean +KLD:' $out/$tag.kl.log) | $(grep 'Same top p:' $out/$tag.kl.log) | $(grep ' lm_head.weight ' $out/$tag.quant.log | grep -o 'SQNR.*dB\|gptq$\|(no Hessian.*')"
}
one gptq_head $out/clean.h5 --set quant.gptq=true
one gptq_nohead $out/clean_nohead.h5 --set quant.gptq=true
one aq_clean $out/clean.h5
