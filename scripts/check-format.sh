#!/usr/bin/env bash
# Fails, naming the files, when a C++ source differs from what clang-format
# makes of it with the repository's .clang-format. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed (make setup)" >&2; exit 1; }
bad=()
n=0
while IFS= read -r f; do
  n=$((n + 1))
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h' | grep -v '/build')
if ((${#bad[@]})); then
  echo "check-format: not formatted (run clang-format -i on them):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: all $n files formatted"
