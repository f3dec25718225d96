#!/usr/bin/env bash
# asan_e2e.sh BIN_DIR MODEL_DIR WORKDIR: the sanitized binaries (ASan+UBSan build) through the
# issue-8 paths end to end, as MPI singletons: 2-bit job, aq-eval --layer-kl, the KL-driven
# fallback, the dq layout under a mixed budget, aq-calib --hessian and a GPTQ job (issue 15),
# aq-eval of both, aq-inspect summary, --verify
# and --export of the dq result.  Any sanitizer report or failure fails the test.
set -uo pipefail
bin=$1 model=$2 work=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"; mkdir -p "$work"
fail=0
step() { # step NAME CMD...
  local name=$1; shift
  if "$@" > "$work/$name.log" 2>&1 && ! grep -Eq 'Sanitizer|runtime error:' "$work/$name.log"; then
    echo "ok   $name"
  else
    echo "FAIL $name"; tail -n 30 "$work/$name.log"; fail=$((fail + 1))
  fi
}
job=(--config "$root/jobs/baseline.ini" --set model.path="$model" --set quant.bits=2)
step job "$bin/aq-mpi" "${job[@]}" --set output.path="$work/w2.h5"
step layer_kl "$bin/aq-eval" --model "$model" --result "$work/w2.h5" --sequences 2 --length 16 \
  --timesteps 2 --layer-kl "$work/kl.json"
step kl_fallback "$bin/aq-mpi" "${job[@]}" --set output.path="$work/fb.h5" \
  --set quant.fallback=true --set quant.fallback_kl_path="$work/kl.json" --set quant.fallback_kl=0
step dq_budget "$bin/aq-mpi" --config "$root/jobs/int2_compact.ini" --set model.path="$model" \
  --set output.path="$work/dq.h5" --set quant.budget_bits=3.0
step eval "$bin/aq-eval" --model "$model" --result "$work/dq.h5" --result "$work/fb.h5" \
  --sequences 2 --length 16 --timesteps 2 --weights-only
step calib_hessian "$bin/aq-calib" --model "$model" --sequences 2 --length 16 --timesteps 4 \
  --hessian --out "$work/calib.h5"
step gptq "$bin/aq-mpi" --config "$root/jobs/int2_compact.ini" --set model.path="$model" \
  --set output.path="$work/gq.h5" --set quant.gptq=true --set calib.path="$work/calib.h5" \
  --set quant.embeddings=true
step summary "$bin/aq-inspect" "$work/dq.h5"
step verify "$bin/aq-inspect" --verify "$work/dq.h5"
step export "$bin/aq-inspect" --export "$work/dq.safetensors" --dtype f32 "$work/dq.h5"
echo "asan_e2e: $fail failed"
exit $((fail > 0))
