#!/usr/bin/env bash
# lint.sh: bash -n and shellcheck (skip, exit 77, when not installed) of the Slurm and multi-host scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in slurm/*.sh tests/slurm/*.sh tests/multihost/*.sh; do
  bash -n "$f"
done
/usr/bin/python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" slurm/collect_scaling.py
command -v shellcheck >/dev/null || {
  echo "SKIP: shellcheck not installed (apt-get install shellcheck); bash -n passed"
  exit 77
}
shellcheck -x slurm/*.sh tests/slurm/*.sh tests/multihost/*.sh
echo "lint: ok"
