#!/usr/bin/env bash
# ggml_budget_kl_test.sh BIN_DIR MODEL WORKDIR
# The size budget across ggml's formats driven by measured output KL (quant.budget_kl_path with
# quant.format = q2_k, docs/BITS.md §3b), on tinystories-qwen2-4m (every row a multiple of 256,
# so the chain is q2_k q3_k q4_k q5_k q6_k q8_0):
#  1. aq-eval --layer-kl --clean on a uniform q2_k result (embeddings included) writes
#     "aq-eval/layer-kl/2" with "clean": true and one entry per quantized tensor, the embedding
#     and lm_head included, each with "format": "q2_k"; 1 and 2 ranks give the same KLs (the
#     single-rank path resumes from cached activations, the 2-rank one runs the pipeline).
#  2. A KL file over those tensors x the chain, made up so that the answer is known: lm_head
#     costs 100 nats below q6_k, the embedding costs nothing anywhere. At 3.5 bits/weight the
#     job on 1 and 3 ranks gives bit-identical files, within the budget, lm_head in q6_k or
#     q8_0, the embedding in q2_k, every tensor budget_chosen.
#  3. One entry removed: refused, naming the tensor and the format, and no output file.
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins}
test -e "$model" || { echo "ggml_budget_kl_test: $model not found: skipped"; exit 77; }
mkdir -p "$work"
ids=$(dirname "$model")/../corpus/calib.ids.txt
tok=()
[ -f "$ids" ] && tok=(--tokens "$ids") # else sequences sampled from the model
fmt=(--set quant.format=q2_k --set quant.embeddings=true)
bash "$here/run_job.sh" "$bin" 1 "$model" "$work/u_q2_k.h5" "${fmt[@]}" > "$work/u_q2_k.log"
for n in 1 2; do
  mpirun --oversubscribe --allow-run-as-root -n $n "$bin/aq-eval" --model "$model" --clean \
    "${tok[@]}" --sequences 2 --length 32 --result "$work/u_q2_k.h5" \
    --layer-kl "$work/lkl.n$n.json" > "$work/lkl.n$n.log"
done
grep -m1 'clean text' "$work/lkl.n1.log"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
a, b = (json.load(open(f"{w}/lkl.n{n}.json")) for n in (1, 2))
assert a["format"] == "aq-eval/layer-kl/2" and a["clean"] is True and a["timesteps"] == 1, a
names = [e["name"] for e in a["layers"]]
assert len(names) == 30 and len(set(names)) == 30, names
assert "model.embed_tokens.weight" in names and "lm_head.weight" in names, names
assert all(e["format"] == "q2_k" and e["bits"] == 2 and e["kl"] > 0 for e in a["layers"])
for x, y in zip(a["layers"], b["layers"]):
    assert x["name"] == y["name"] and abs(x["kl"] - y["kl"]) <= 1e-9 * x["kl"], (x, y)
head = {e["name"]: e["kl"] for e in a["layers"]}
print(f"layer KL: 30 tensors, 1 and 2 ranks agree; lm_head {head['lm_head.weight']:.4g}, "
      f"embedding {head['model.embed_tokens.weight']:.4g} nats at q2_k")
# the made-up file: lm_head 100 nats below q6_k, the embedding 0, others 4^-level scaled
chain = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_0"]
out = dict(a, layers=[])
for i, n in enumerate(names):
    for lv, f in enumerate(chain):
        kl = 1e-3 * (1 + i % 5) * 4.0 ** -lv
        if n == "lm_head.weight":
            kl = 100.0 if lv < 4 else 1e-6 * (5 - lv)
        if n == "model.embed_tokens.weight":
            kl = 0.0
        out["layers"].append(dict(name=n, bits=int(f[1]), format=f, kl=kl, result="made up"))
json.dump(out, open(f"{w}/made_up.json", "w"), indent=1)
out["layers"] = [e for e in out["layers"]
                 if not (e["name"] == "model.layers.1.mlp.up_proj.weight" and e["format"] == "q4_k")]
json.dump(out, open(f"{w}/missing.json", "w"), indent=1)
PY
set_args=("${fmt[@]}" --set quant.budget_bits=3.5 --set quant.budget_kl_path="$work/made_up.json")
for n in 1 3; do
  bash "$here/run_job.sh" "$bin" $n "$model" "$work/mix.n$n.h5" "${set_args[@]}" > "$work/mix.n$n.log"
done
grep -E '^(budget|formats):? ' "$work/mix.n1.log"
grep -q 'allocated over ggml formats from q2_k up by per-layer KL per format' "$work/mix.n1.log"
/usr/bin/python3 "$here/compare_results.py" "$work/mix.n1.h5" "$work/mix.n3.h5"
/usr/bin/python3 "$here/budget_check.py" "$work/mix.n1.h5" 3.5
/usr/bin/python3 - "$work/mix.n1.h5" <<'PY'
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    t = {n: dict(g.attrs) for n, g in f["tensors"].items() if g.attrs["kind"] == "quantized"}
fmt = {n: a["format"] if isinstance(a["format"], str) else a["format"].decode()
       for n, a in t.items()}
assert len(t) == 30 and all(int(a.get("budget_chosen", 0)) == 1 for a in t.values()), t.keys()
assert fmt["lm_head.weight"] in ("q6_k", "q8_0"), fmt["lm_head.weight"]
assert fmt["model.embed_tokens.weight"] == "q2_k", fmt["model.embed_tokens.weight"]
print(f"formats follow the KL file: lm_head {fmt['lm_head.weight']}, embedding "
      f"{fmt['model.embed_tokens.weight']}, {len(set(fmt.values()))} formats in all")
PY
rm -f "$work/missing.h5"
if bash "$here/run_job.sh" "$bin" 2 "$model" "$work/missing.h5" "${fmt[@]}" \
     --set quant.budget_bits=3.5 --set quant.budget_kl_path="$work/missing.json" \
     > "$work/missing.log" 2> "$work/missing.err"; then
  echo "FAIL: a KL file without model.layers.1.mlp.up_proj.weight at q4_k accepted"; exit 1
fi
grep -m1 'no KL for tensor model.layers.1.mlp.up_proj.weight in format q4_k' "$work/missing.err"
test ! -e "$work/missing.h5" && test ! -e "$work/missing.h5.partial"
echo "ggml_budget_kl_test: ok"
