#!/usr/bin/env bash
# lint_format.sh SRC_DIR: every tracked .c/.h file is formatted as the committed .clang-format
# says (clang-format --dry-run --Werror).  Exit 77 (CTest: skipped) with the reason when
# clang-format or the git checkout is missing.
set -euo pipefail
src=${1:?usage: lint_format.sh SRC_DIR}
cd "$src"
command -v clang-format >/dev/null || {
  echo "SKIPPED: clang-format not installed (apt-get install clang-format)"
  exit 77
}
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
  echo "SKIPPED: $src is not a git checkout (the tracked files are the ones checked)"
  exit 77
}
mapfile -t files < <(git ls-files -- '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no tracked C files under $src"; exit 1; }
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "FAIL: files above differ from .clang-format (fix: clang-format -i FILE)"
  exit 1
fi
echo "lint.format: ${#files[@]} files formatted ($(clang-format --version))"
