#!/usr/bin/env bash
# run_job.sh BIN_DIR NRANKS MODEL OUT [--set k=v ...]
# Runs the baseline job under real mpirun and checks it produced OUT and no partial file.
set -euo pipefail
bin=$1 n=$2 model=$3 out=$4
shift 4
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$(dirname "$out")"
rm -f "$out" "$out.partial"
mpirun --oversubscribe --allow-run-as-root -n "$n" "$bin/aq-mpi" --config "$root/jobs/baseline.ini" \
  --set model.path="$model" --set output.path="$out" --set run.threads=1 "$@"
test -f "$out" || { echo "run_job: $out missing" >&2; exit 1; }
test ! -e "$out.partial" || { echo "run_job: $out.partial left behind" >&2; exit 1; }
echo "run_job: ok ($n ranks, $out)"
