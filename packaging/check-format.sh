#!/usr/bin/env bash
# Checks that every C++ file in git (*.cpp, *.h; not the configure_file templates *.h.in, whose
# @VARIABLES@ it would split) follows .clang-format (clang-format 14, Debian 12's), and
# names each file that does not. With --fix, formats them in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
formatter=$(command -v clang-format-14 || true)
if [ -z "$formatter" ]; then
    echo "check-format: clang-format-14 is missing (packaging/install-deps.sh installs it)" >&2
    exit 1
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
    "$formatter" -i "${files[@]}"
    echo "check-format: formatted ${#files[@]} files"
    exit 0
fi
bad=()
for file in "${files[@]}"; do
    if ! "$formatter" --dry-run --Werror "$file" >/dev/null 2>&1; then
        bad+=("$file")
    fi
done
if ((${#bad[@]} > 0)); then
    echo "check-format: ${#bad[@]} of ${#files[@]} files do not follow .clang-format:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "check-format: run 'bash packaging/check-format.sh --fix' (clang-format-14 -i) and commit" >&2
    exit 1
fi
echo "check-format: all ${#files[@]} files follow .clang-format"
