#!/usr/bin/env bash
# Runs every evaluation against the labelled data in ../shared/data and
# prints the results. Called by .ci/run when that folder exists; the numbers
# recorded in EVALUATION.md come from these same commands.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${PALISADE_EVAL_DATA:-../shared/data}"
[ -d "$data" ] || { echo "no evaluation data at $data"; exit 0; }
cargo build --quiet -p palisade
bin=target/debug/palisade
echo "evaluation data: $data"
# Each evaluation below is added by the feature that owns it.
"$bin" --version
