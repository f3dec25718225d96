#!/usr/bin/env bash
# Quantize Dream 7B to INT2 with aq-mpi.  Submit from the repository root:
#     sbatch slurm/dream7b_int2.sh
# Override paths from the environment (sbatch passes it through):
#     AQ_MODEL=/data/Dream-v0-Base-7B AQ_OUTPUT=/scratch/$USER/dream7b_int2.h5 sbatch slurm/dream7b_int2.sh
#
# Site notes — change these for your cluster:
#   * --partition / --account: add the lines your site requires.
#   * --ntasks x --cpus-per-task: ranks x OpenMP threads.  28 transformer blocks divide well
#     over 2, 4, 7, 14 or 28 ranks; each rank needs about 2x its largest tensor in memory
#     (the 152064x3584 embeddings are passed through by rank 0, not quantized, by default).
#   * Launcher: srun where Slurm's PMI support is built into Open MPI, else mpirun.
#
# STATUS: written for issue 2 and checked with bash -n; it has NOT yet run under a real Slurm
# controller (issue 6 adds the local-cluster test and requeue-safe resume).
#SBATCH --job-name=aq-dream7b-int2
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=01:00:00
#SBATCH --output=logs/%x-%j.out
#SBATCH --error=logs/%x-%j.err
#SBATCH --signal=B:USR1@120
set -euo pipefail

REPO=${SLURM_SUBMIT_DIR:-$(pwd)}
AQ_BIN=${AQ_BIN:-$REPO/build}
AQ_CONFIG=${AQ_CONFIG:-$REPO/jobs/dream7b_int2.ini}
AQ_MODEL=${AQ_MODEL:-$REPO/models/dream-7b}
AQ_OUTPUT=${AQ_OUTPUT:-$REPO/out/dream7b_int2.h5}

mkdir -p "$REPO/logs" "$(dirname "$AQ_OUTPUT")"
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PROC_BIND=close OMP_PLACES=cores

echo "aq-mpi job ${SLURM_JOB_ID:-local}: ${SLURM_NTASKS:-1} ranks x $OMP_NUM_THREADS threads"
echo "model $AQ_MODEL -> $AQ_OUTPUT (config $AQ_CONFIG)"

if command -v srun >/dev/null 2>&1 && [ -n "${SLURM_JOB_ID:-}" ]; then
  LAUNCH=(srun --cpu-bind=cores)
else
  LAUNCH=(mpirun -n "${SLURM_NTASKS:-1}" --bind-to core --map-by "slot:PE=$OMP_NUM_THREADS")
fi
"${LAUNCH[@]}" "$AQ_BIN/aq-mpi" --config "$AQ_CONFIG" \
  --set model.path="$AQ_MODEL" --set output.path="$AQ_OUTPUT" --set run.threads="$OMP_NUM_THREADS"
