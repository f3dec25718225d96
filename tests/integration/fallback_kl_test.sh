#!/usr/bin/env bash
# fallback_kl_test.sh BIN_DIR MODEL WORKDIR: the KL-driven per-layer fallback.  A 2-bit run,
# aq-eval --layer-kl on it (each weight's KL with only that weight quantized), then the same
# job with quant.fallback_kl_path and quant.fallback_kl at the median KL (weighted-error
# thresholds out of the way): exactly the layers above it must be at 4 bits, with
# fallback_from_kl equal to the JSON's value; a malformed KL file is refused before output.
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
bash "$here/run_job.sh" "$bin" 2 "$model" "$work/plain.h5" --set quant.bits=2 >/dev/null
mpirun --oversubscribe --allow-run-as-root -n 2 "$bin/aq-eval" --model "$model" \
  --result "$work/plain.h5" --sequences 2 --length 32 --timesteps 4 --layer-kl "$work/kl.json"
thr=$(/usr/bin/python3 -c '
import json, sys
k = sorted(e["kl"] for e in json.load(open(sys.argv[1]))["layers"])
print(repr((k[len(k) // 2 - 1] + k[len(k) // 2]) / 2))' "$work/kl.json")
echo "fallback_kl_test: threshold $thr nats (median per-layer KL at 2 bits)"
bash "$here/run_job.sh" "$bin" 2 "$model" "$work/fallback.h5" --set quant.bits=2 \
  --set quant.fallback=true --set quant.fallback_2bit=1e6 \
  --set quant.fallback_kl_path="$work/kl.json" --set quant.fallback_kl="$thr" > "$work/fallback.log"
grep -m 3 'KL ' "$work/fallback.log"
/usr/bin/python3 - "$work/fallback.h5" "$work/kl.json" "$thr" <<'PY'
import json, sys, h5py
kl = {e["name"]: e["kl"] for e in json.load(open(sys.argv[2]))["layers"]}
thr, bad, up = float(sys.argv[3]), [], 0
with h5py.File(sys.argv[1], "r") as f:
    for name, v in kl.items():
        g = f["tensors"][name]
        want = 4 if v > thr else 2
        if int(g.attrs["bits"]) != want:
            bad.append(f"{name}: bits {int(g.attrs['bits'])}, KL {v:.4g} vs {thr:.4g}")
        if want == 4:
            up += 1
            if abs(float(g.attrs["fallback_from_kl"]) - v) > 1e-12 * max(1.0, v):
                bad.append(f"{name}: fallback_from_kl {g.attrs['fallback_from_kl']} != {v}")
            if int(g.attrs["fallback_from_bits"]) != 2:
                bad.append(f"{name}: fallback_from_bits != 2")
        elif "fallback_from_bits" in g.attrs:
            bad.append(f"{name}: fell back below the threshold")
for b in bad:
    print("FAIL", b)
print(f"fallback_kl_check: {up} of {len(kl)} layers moved to 4 bits; {len(bad)} problems")
sys.exit(1 if bad or up == 0 or up == len(kl) else 0)
PY
echo '{"format": "aq-eval/layer-kl/1", "layers": [{"name": "x", "bits": 2}]}' > "$work/bad.json"
rm -f "$work/bad.h5"
if bash "$here/run_job.sh" "$bin" 2 "$model" "$work/bad.h5" --set quant.bits=2 \
     --set quant.fallback=true --set quant.fallback_kl_path="$work/bad.json" 2> "$work/bad.err"; then
  echo "FAIL: malformed KL file accepted"; exit 1
fi
grep -q 'bad.json: layers\[0\]' "$work/bad.err" && test ! -e "$work/bad.h5" && test ! -e "$work/bad.h5.partial"
echo "fallback_kl_test: ok"
