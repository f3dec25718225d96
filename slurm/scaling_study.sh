#!/usr/bin/env bash
# Scaling study: one job per (ranks x threads) of the grid, each running slurm/dream7b_int2.sh,
# then a collector job (dependency afterany) that turns the results' /run metrics into a table
# and plot of speed-up and efficiency (slurm/collect_scaling.py).  Run from the repository root:
#
#     slurm/scaling_study.sh --ranks "1 2 4 8" --threads "1 2 4" --dir out/scaling
#     AQ_MODEL=/data/Dream-v0-Base-7B slurm/scaling_study.sh --ranks "2 4 7 14 28" --threads "1 4"
#
# Options (environment in brackets):
#   --ranks LIST      MPI ranks to try                          [AQ_SCALING_RANKS, "1 2 4"]
#   --threads LIST    OpenMP threads per rank                   [AQ_SCALING_THREADS, "1 2 4"]
#   --dir DIR         results, logs and the table               [AQ_SCALING_DIR, out/scaling-<date>]
#   --cores-per-node N  ask for ceil(ranks*threads/N) nodes per job (default: one node each)
#   --wait            wait for the collector and print the table
#   -- ARGS           extra sbatch options for every job, e.g. -- --partition=compute --time=4:00:00
# AQ_MODEL, AQ_CONFIG, AQ_BIN, AQ_ARGS, AQ_LAUNCHER, AQ_BIND pass through to the jobs
# (see slurm/dream7b_int2.sh).  The jobs do not requeue (a resumed run would time only its
# last part); a run that hits the time limit is listed as missing by the collector.
#
# Every result is a full quantized model: for 7B that is ~2 GB per grid point in DIR.
set -euo pipefail

ranks=${AQ_SCALING_RANKS:-"1 2 4"}
threads=${AQ_SCALING_THREADS:-"1 2 4"}
dir=${AQ_SCALING_DIR:-out/scaling-$(date +%Y%m%d-%H%M%S)}
cores_per_node=
wait_for_table=0
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --cores-per-node) cores_per_node=$2; shift 2 ;;
    --wait) wait_for_table=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "scaling_study.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
  esac
done

repo=$PWD
[ -f "$repo/slurm/dream7b_int2.sh" ] || {
  echo "scaling_study.sh: run it from the repository root (no slurm/dream7b_int2.sh here)" >&2
  exit 2
}
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
export AQ_BIN=${AQ_BIN:-$repo/build}
export AQ_MAX_REQUEUES=0

printf 'ranks\tthreads\tjob\toutput\n' >"$dir/jobs.tsv"
ids=()
for r in $ranks; do
  for t in $threads; do
    out=$dir/r${r}_t${t}.h5
    rm -f "$out" "$out.partial"
    nodes=()
    if [ -n "$cores_per_node" ]; then
      nodes=(--nodes=$(((r * t + cores_per_node - 1) / cores_per_node)))
    fi
    id=$(AQ_OUTPUT=$out sbatch --parsable --job-name="aq-scale-r${r}t${t}" --ntasks="$r" \
      --cpus-per-task="$t" "${nodes[@]}" --no-requeue \
      --output="$dir/logs/%x-%j.out" --error="$dir/logs/%x-%j.err" \
      "${extra[@]}" slurm/dream7b_int2.sh)
    id=${id%%;*}
    ids+=("$id")
    printf '%s\t%s\t%s\t%s\n' "$r" "$t" "$id" "$out" >>"$dir/jobs.tsv"
    echo "submitted $r ranks x $t threads: job $id"
  done
done

deps=$(
  IFS=:
  echo "${ids[*]}"
)
collect=(/usr/bin/python3 "$repo/slurm/collect_scaling.py" "$dir")
printf -v wrap '%q ' "${collect[@]}"
wait_opt=()
[ "$wait_for_table" = 1 ] && wait_opt=(--wait)
cid=$(sbatch --parsable "${wait_opt[@]}" --job-name=aq-scale-collect --dependency="afterany:$deps" \
  --ntasks=1 --cpus-per-task=1 --mem=2G --time=00:15:00 \
  --output="$dir/logs/%x-%j.out" --error="$dir/logs/%x-%j.err" \
  "${extra[@]}" --wrap="$wrap")
cid=${cid%%;*}
echo "collector: job $cid (after $deps) -> $dir/scaling.md, scaling.png"
printf 'collector\t-\t%s\t-\n' "$cid" >>"$dir/jobs.tsv"
if [ "$wait_for_table" = 1 ]; then
  cat "$dir/logs/aq-scale-collect-$cid.out"
fi
