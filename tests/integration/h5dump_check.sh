#!/bin/sh
# h5dump_check.sh RESULT.h5 PLUGIN_DIR
#
# The HDF5 command-line tools (serial HDF5, not the library aq-mpi links) must read an
# aq-mpi result through the zstd plugin: dump the header, then the data of one `codes`
# dataset.  Fails when h5dump fails or prints any error.
set -u
result=${1:?usage: h5dump_check.sh RESULT.h5 PLUGIN_DIR}
plugins=${2:?usage: h5dump_check.sh RESULT.h5 PLUGIN_DIR}
HDF5_PLUGIN_PATH=$plugins
export HDF5_PLUGIN_PATH
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

# run CMD...: runs it with stdout+stderr into $out; fails on a non-zero status or an
# error line (h5dump reports unreadable data on stderr but may still exit 0).
run() {
    if ! "$@" >"$out" 2>&1; then
        echo "h5dump_check: FAIL: $* exited non-zero" >&2
        tail -n 20 "$out" >&2
        exit 1
    fi
    if grep -qiE 'error|unable to|failed' "$out"; then
        echo "h5dump_check: FAIL: $* printed an error" >&2
        grep -iE 'error|unable to|failed' "$out" | head -n 20 >&2
        exit 1
    fi
}

run h5dump -H "$result"
grep -q 'GROUP "tensors"' "$out" || { echo "h5dump_check: FAIL: no /tensors group" >&2; exit 1; }
run h5dump -a /format "$result"
grep -q '"aq-mpi/1"' "$out" || { echo "h5dump_check: FAIL: format is not aq-mpi/1" >&2; exit 1; }

codes=$(h5ls -r "$result" | awk '$2 == "Dataset" && $1 ~ /\/codes$/ { print $1; exit }')
[ -n "$codes" ] || codes=$(h5ls -r "$result" | awk '$2 == "Dataset" && $1 ~ /^\/tensors\// { print $1; exit }')
if [ -z "$codes" ]; then
    echo "h5dump_check: FAIL: no dataset under /tensors" >&2
    exit 1
fi

run h5dump -p -d "$codes" "$result"
grep -q '32015' "$out" || { echo "h5dump_check: FAIL: $codes does not use filter 32015" >&2; exit 1; }
grep -q 'DATA {' "$out" || { echo "h5dump_check: FAIL: no data printed for $codes" >&2; exit 1; }
echo "h5dump_check: ok ($codes read through $plugins)"
