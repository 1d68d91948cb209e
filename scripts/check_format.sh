#!/usr/bin/env bash
# Reports C++ files that differ from .clang-format (clang-format --dry-run -Werror). Changes nothing.
#   bash scripts/check_format.sh        list the files that would be reformatted
#   bash scripts/check_format.sh -v     also show the diff for each
# Exits 1 when any file differs, 0 when all are clean. CI runs it as a report only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

verbose=0
[[ ${1:-} == -v ]] && verbose=1
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check_format: $CLANG_FORMAT not found (bash scripts/install_deps.sh installs it)" >&2
  exit 2
fi

dirs=()
for d in engine ops nn rl examples bench tests; do [[ -d $d ]] && dirs+=("$d"); done
# The project's own files: tracked or new, never git-ignored ones (virtual environments carry C headers).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- "${dirs[@]}" |
    grep -E '\.(cpp|h)$' | while read -r f; do [[ -f $f ]] && echo "$f"; done | LC_ALL=C sort)
else
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.h' \) | LC_ALL=C sort)
fi

bad=()
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --dry-run -Werror --ferror-limit=1 "$f" >/dev/null 2>&1; then
    bad+=("$f")
    ((verbose)) && { "$CLANG_FORMAT" "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - || true; }
  fi
done

if ((${#bad[@]} == 0)); then
  echo "check_format: ${#files[@]} files clean ($("$CLANG_FORMAT" --version | head -1))"
  exit 0
fi
echo "check_format: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
printf '  %s\n' "${bad[@]}"
echo "see the changes with: bash scripts/check_format.sh -v;  apply one with: clang-format -i FILE"
exit 1
