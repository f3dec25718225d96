#!/usr/bin/env bash
# dream_pipeline.sh BIN_DIR MODEL CORPUS WORK
# tinystories-dream-4m end to end at 1, 2 and 3 ranks: aq-calib from the corpus's calibration
# token ids, the Phase 1+3 job (jobs/phase3.ini, calib.path, W2A8, 2 time groups), aq-eval
# on validation windows and aq-generate with the result.  Everything must be identical across
# rank counts: calibration files (model_check.py calib), results (compare_results.py), eval
# JSON (model_check.py same-json), generated ids.  aq-generate must repeat itself for a seed
# and change with the seed.  Exit 77 when the model or the corpus is absent.
set -euo pipefail
bin=$1 model=$2 corpus=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
for f in "$model/model.safetensors" "$corpus/calib.ids.txt" "$corpus/val.ids.txt"; do
  [[ -r $f ]] || { echo "SKIP: $f is missing"; exit 77; }
done
mkdir -p "$work"
run="mpirun --oversubscribe --allow-run-as-root"
gen() { # gen N SEED OUT: aq-generate's texts and ids, without the header (it names the ranks)
  # and with the result's file name made rank-count free
  $run -n "$1" "$bin/aq-generate" --model "$model" --result "$work/job_n$1.h5" --seed "$2" \
    --new 32 --steps 8 --ids --prompt "Once upon a time, there was a " | tail -n +2 \
    | sed "s|job_n$1.h5|job.h5|" > "$3"
}
for n in 1 2 3; do
  $run -n $n "$bin/aq-calib" --model "$model" --tokens "$corpus/calib.ids.txt" --sequences 6 \
    --length 128 --timesteps 4 --out "$work/calib_n$n.h5"
  $run -n $n "$bin/aq-mpi" --config "$here/../../jobs/phase3.ini" --set model.path="$model" \
    --set calib.synthetic=false --set calib.path="$work/calib_n$n.h5" --set quant.bits=2 \
    --set timegroups.count=2 --set run.threads=1 --set output.path="$work/job_n$n.h5" > /dev/null
  $run -n $n "$bin/aq-eval" --model "$model" --result "$work/job_n$n.h5" \
    --tokens "$corpus/val.ids.txt" --sequences 6 --length 128 --timesteps 4 \
    --json "$work/eval_n$n.json" > "$work/eval_n$n.txt"
  gen $n 3 "$work/gen_n$n.txt"
done
cat "$work/eval_n1.txt" "$work/gen_n1.txt"
/usr/bin/python3 "$here/model_check.py" calib "$work/calib_n1.h5" "$work/calib_n2.h5" "$work/calib_n3.h5"
/usr/bin/python3 "$here/compare_results.py" "$work/job_n1.h5" "$work/job_n2.h5" "$work/job_n3.h5"
for n in 2 3; do
  /usr/bin/python3 "$here/model_check.py" same-json "$work/eval_n1.json" "$work/eval_n$n.json"
  cmp "$work/gen_n1.txt" "$work/gen_n$n.txt" || { echo "FAIL: generated text differs at $n ranks"; exit 1; }
done
grep -q 'fake-quantized' "$work/eval_n1.txt" || { echo "FAIL: the result's /act was not used"; exit 1; }
gen 1 3 "$work/gen_again.txt"
cmp "$work/gen_n1.txt" "$work/gen_again.txt" || { echo "FAIL: same seed, other text"; exit 1; }
gen 1 4 "$work/gen_seed4.txt"
if cmp -s "$work/gen_n1.txt" "$work/gen_seed4.txt"; then echo "FAIL: the seed changes nothing"; exit 1; fi
[[ $(grep -c 'ids:' "$work/gen_n1.txt") == 2 ]] || { echo "FAIL: expected 2 texts (fp, result)"; exit 1; }
echo "dream_pipeline: ok (calibration, job, eval and generation identical at 1, 2, 3 ranks)"
