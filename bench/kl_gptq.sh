#!/usr/bin/env bash
# kl_gptq.sh BIN_DIR MODEL CORPUS WORK [CAUSAL_FLAG] — issue 15, one measurement (not in CI):
# aq-eval KL of GPTQ (quant.gptq) against the plain / dq searches at equal size, all with the
# same calibration file (aq-calib --hessian on CORPUS/calib.ids.txt; the searches get the
# importance h_j from its statistics, GPTQ gets h_j and the Hessians), scored on held-out
# sequences CORPUS/val.ids.txt.  Prints the table; JSON in WORK/kl.json, logs in WORK/*.log.
# Environment: SEQS (32), LEN (64), T (16) for calibration and evaluation; TW (alphabar) the
# time weighting of both the Hessians/importance (aq-calib --time-weight) and the job
# (timegroups.time_weight): TW=uniform is the ablation "H without time weights".
# LAYOUTS=ggml: instead of the plain / dq rows, ggml's Q2_K and Q4_K (quant.format), each by
# its own search and by GPTQ (src/quant/ggml/ggml_gptq.c; rows must be multiples of 256 or the
# job falls back to a 32-column format):
#   LAYOUTS=ggml SEQS=16 T=8 bash bench/kl_gptq.sh build ../shared/models/tinystories-qwen2-4m ../shared/corpus /tmp/klg_qwen
#   bash bench/kl_gptq.sh build ../shared/models/tinystories-656k-llama ../shared/corpus /tmp/klg
set -euo pipefail
bin=$1 model=$2 corpus=$3 work=$4
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins}
run="mpirun --oversubscribe -n 2"
seqs=${SEQS:-32} len=${LEN:-64} T=${T:-16} tw=${TW:-alphabar}
calib="$work/calib.h5"
[ -f "$calib" ] || $run "$bin/aq-calib" --model "$model" --tokens "$corpus/calib.ids.txt" \
  --sequences "$seqs" --length "$len" --timesteps "$T" --time-weight "$tw" --hessian --out "$calib" > "$work/calib.log"
job() { # job NAME [--set ...]
  local name=$1; shift
  $run "$bin/aq-mpi" --config "$root/jobs/baseline.ini" --set model.path="$model" \
    --set output.path="$work/$name.h5" --set run.threads=1 --set calib.path="$calib" \
    --set timegroups.time_weight="$tw" "$@" \
    > "$work/$name.log"
  printf '%-16s %s  %s s\n' "$name" "$(grep -o 'quantized at [0-9.]* bits/weight' "$work/$name.log")" \
    "$(grep -o 'wall time     total [0-9.]*' "$work/$name.log" | grep -o '[0-9.]*$')"
}
dq2="--set quant.scale_dtype=dq --set quant.bits=2 --set quant.group_size=32"
p4="--set quant.bits=4 --set quant.group_size=64"
p2="--set quant.bits=2 --set quant.group_size=32"
g="--set quant.gptq=true"
if [ "${LAYOUTS:-}" = ggml ]; then
  names=()
  for f in q2_k q4_k; do
    job "$f" --set quant.format=$f
    job "${f}_gptq" --set quant.format=$f $g
    names+=("$f" "${f}_gptq")
  done
else
  job dq2_g32 $dq2
  job dq2_g32_gptq $dq2 $g
  job dq2_g32_gptq_ao $dq2 $g --set quant.gptq_act_order=true
  job w2_g32 $p2
  job w2_g32_gptq $p2 $g
  job w4_g64 $p4
  job w4_g64_gptq $p4 $g
  names=(dq2_g32 dq2_g32_gptq dq2_g32_gptq_ao w2_g32 w2_g32_gptq w4_g64 w4_g64_gptq)
fi
results=()
for n in "${names[@]}"; do results+=(--result "$work/$n.h5"); done
$run "$bin/aq-eval" --model "$model" "${results[@]}" --tokens "$corpus/val.ids.txt" \
  --sequences "$seqs" --length "$len" --timesteps "$T" --weights-only ${5:-} \
  --json "$work/kl.json" > "$work/eval.log"
/usr/bin/python3 - "$work/kl.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'result':<18} {'KL nats':>9} {'top1':>7}  per t (u ascending)")
for r in d["results"]:
    name = r["result"].rsplit("/", 1)[-1][:-3]
    per = " ".join(f"{p['kl']:.3f}" for p in r["per_timestep"])
    print(f"{name:<18} {r['overall']['kl']:9.4f} {r['overall']['top1']:7.4f}  {per}")
PY
