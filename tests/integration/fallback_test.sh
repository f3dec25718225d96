#!/usr/bin/env bash
# fallback_test.sh BIN_DIR MODEL WORKDIR: a 2-bit run without fallback gives the layers'
# weighted relative errors; with quant.fallback at their median, the layers above it must
# move to 4 bits (recorded) and the rest stay at 2 bits.
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
bash "$here/run_job.sh" "$bin" 2 "$model" "$work/plain.h5" --set quant.bits=2 >/dev/null
thr=$(/usr/bin/python3 - "$work/plain.h5" <<'PY'
import sys, h5py, statistics
with h5py.File(sys.argv[1], "r") as f:
    e = sorted(float(g.attrs["weighted_rel_err"]) for g in f["tensors"].values()
               if g.attrs["kind"] == "quantized")
lo, hi = e[len(e) // 2 - 1], e[len(e) // 2]
print(repr((lo + hi) / 2))
PY
)
echo "fallback_test: threshold $thr (median weighted relative error at 2 bits)"
bash "$here/run_job.sh" "$bin" 2 "$model" "$work/fallback.h5" --set quant.bits=2 \
  --set quant.fallback=true --set quant.fallback_2bit="$thr" > "$work/fallback.log"
grep -m 3 'fallback from' "$work/fallback.log"
/usr/bin/python3 "$here/fallback_check.py" "$work/fallback.h5" "$thr"
/usr/bin/python3 "$here/interop_check.py" "$work/fallback.h5" "$model" | tail -n 1
# Per-tensor plan items (docs/SCALING.md §5b): at 8 ranks the blocks are split into tensors,
# each still whole, so the fallback decisions and the file equal the 2-rank run's.
bash "$here/run_job.sh" "$bin" 8 "$model" "$work/fallback_n8.h5" --set quant.bits=2 \
  --set quant.fallback=true --set quant.fallback_2bit="$thr" > "$work/fallback_n8.log"
# whole units would keep the quantized tensors on 2 ranks (2 blocks); tensor items spread them
ranks=$(grep -E '^\[ *[0-9]+/[0-9]+\] rank +[0-9]+ .* int[0-9]' "$work/fallback_n8.log" |
  grep -oE 'rank +[0-9]+' | sort -u | wc -l)
[ "$ranks" -ge 3 ] ||
  { echo "fallback_test: quantized tensors on $ranks ranks at -n 8: not split into tensor items"; exit 1; }
echo "fallback_test: -n 8: quantized tensors on $ranks ranks"
/usr/bin/python3 "$here/compare_results.py" "$work/fallback.h5" "$work/fallback_n8.h5"
