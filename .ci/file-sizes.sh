#!/usr/bin/env bash
# Lists src/ files over 400 lines outside their unit tests (a `tests.rs` file or an inline
# `#[cfg(test)] mod tests { ... }` at the end); exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/../src"
status=0
while IFS= read -r f; do
  case "$f" in */tests.rs|*/tests/*) continue ;; esac
  n=$(awk '/^#\[cfg\(test\)\]/{exit} {n++} END{print n+0}' "$f")
  if [ "$n" -gt 400 ]; then echo "$f: $n lines outside tests (limit 400)"; status=1; fi
done < <(find . -name '*.rs' | sort)
exit $status
