#!/usr/bin/env bash
# tests/fuzz/run.sh NAME FUZZ_BIN_DIR SECONDS — replays every regression input of NAME
# (tests/fuzz/regressions/NAME/: inputs that once crashed), then fuzzes NAME for SECONDS
# from the committed seed corpus.  Exit 77 (skipped) when the harness was not built.
set -uo pipefail
name=$1 bin=$2 secs=$3
here=$(cd "$(dirname "$0")" && pwd)
exe="$bin/fuzz_$name"
if [ ! -x "$exe" ]; then echo "fuzz: SKIPPED: $exe not built (see fuzz.build)"; exit 77; fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export TMPDIR=$work UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
reg="$here/regressions/$name"
if [ -d "$reg" ] && [ -n "$(ls "$reg")" ]; then
  echo "fuzz: replaying $(ls "$reg" | wc -l) regression input(s) of $name"
  "$exe" -runs=1 "$reg"/* >"$work/replay.log" 2>&1 || { cat "$work/replay.log"; exit 1; }
fi
mkdir -p "$work/corpus"
"$exe" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$work/" \
  "$work/corpus" "$here/corpus/$name" >"$work/fuzz.log" 2>&1
rc=$?
tail -3 "$work/fuzz.log"
if [ $rc -ne 0 ]; then
  cat "$work/fuzz.log"
  for a in "$work"/crash-* "$work"/leak-* "$work"/oom-* "$work"/timeout-*; do
    [ -e "$a" ] && echo "fuzz: finding (base64, add to tests/fuzz/regressions/$name/):" && base64 -w0 "$a" && echo
  done
  exit 1
fi
