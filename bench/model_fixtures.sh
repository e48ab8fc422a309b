#!/usr/bin/env bash
# Evaluate `palisade model scan` on the picklescan fixtures in ../shared
# (read as bytes only, never unpickled). Prints every miss and a closing
# "N passed, M failed" line; exits 1 on any miss. Skips (exit 0) when the
# shared data is not there, e.g. on a fresh clone without ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
LABELS=${1:-../shared/data/model_files/picklescan-fixtures/labels.csv}
if [ ! -f "$LABELS" ]; then
  echo "model fixtures: $LABELS not found; skipped"
  exit 0
fi
cargo run -q -p palisade -- model eval "$LABELS" | grep -v '^ok '
exit "${PIPESTATUS[0]}"
