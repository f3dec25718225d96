#!/usr/bin/env bash
# First run on a fresh machine: install dependencies, build, generate the embedded default
# model and quantize it on 2 MPI ranks.  Run from anywhere; works in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ ! -f build/models/tiny/model.safetensors.index.json ]; then
  build/aq-synth --preset tiny --out build/models/tiny
fi
mkdir -p out
MPIRUN=(mpirun --oversubscribe -n 2)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
"${MPIRUN[@]}" build/aq-mpi --config jobs/quickstart.ini
echo
echo "quickstart: result in out/quickstart.h5; inspect it with"
echo "  HDF5_PLUGIN_PATH=$PWD/build/plugins h5dump -H out/quickstart.h5 | less"
