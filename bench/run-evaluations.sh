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
status=0

echo "== detection engine: presidio-research-synth (precision/recall/F1 per kind)"
"$bin" eval detect --dataset presidio-research-synth --data-root "$data" --no-write || status=1
echo "== detection engine: quality gate (floors just under the recorded numbers)"
cargo run -q -p palisade-eval --example quality_gate -- "$data" || status=1

echo "== classifiers: prompt injection and toxicity (AUC, TPR @ 1 % FPR, P/R/F1, cross-dataset, TF-IDF baseline)"
"$bin" eval detect --dataset classifiers --data-root "$data" --no-write || status=1

echo "== model supply chain: picklescan fixtures (read as bytes, never unpickled)"
bash bench/model_fixtures.sh "$data/model_files/picklescan-fixtures/labels.csv" || status=1

exit $status
