#!/usr/bin/env bash
# Model supply chain benchmark: hashing and scan throughput on a generated
# >= 1 GB PyTorch-format checkpoint, beside sha256sum, model_signing,
# picklescan and modelscan on the same files. Release build only.
#
# Usage: bench/model_bench.sh [SIZE_MIB]   (default 1100)
# Writes everything under target/bench/ (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1100}
OUT=target/bench
mkdir -p "$OUT/model"
cargo build --release -p palisade >/dev/null
P=target/release/palisade

CKPT="$OUT/model/pytorch_model.bin"
[ -f "$CKPT" ] && [ "$(stat -c %s "$CKPT")" -ge $((SIZE * 1048576)) ] ||
  python3 bench/model_gen_checkpoint.py "$CKPT" "$SIZE" --tensors 64
# A second, pickle-heavy file: one pickle stream of ~SIZE/4 MiB whose bulk is
# byte strings (the walker must stream through all of it).
BIGPKL="$OUT/big_pickle.pkl"
[ -f "$BIGPKL" ] || python3 - "$BIGPKL" "$((SIZE / 4))" <<'PY'
import os, pickle, sys
out, mib = sys.argv[1], int(sys.argv[2])
blob = os.urandom(1 << 20)
with open(out, "wb") as f:
    # Distinct objects, so the pickler cannot memoize them into BINGETs.
    pickle.dump([blob[:-1] + bytes([i % 256]) for i in range(mib)], f, protocol=4)
PY

BYTES=$(stat -c %s "$CKPT")
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p') ($(nproc) cores)"
echo "checkpoint: $CKPT $BYTES bytes; big pickle: $(stat -c %s "$BIGPKL") bytes"
cat "$CKPT" "$BIGPKL" >/dev/null  # warm the page cache: we measure CPU, not the disk

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
rate() { echo "scale=2; $1 / 1000000000 / $2" | bc; }
best() { local b=999999 x; for _ in 1 2 3; do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done; echo "$b"; }

row() { local name=$1 bytes=$2; shift 2; local s; s=$(best "$@"); printf '| %s | %.3f s | %s GB/s |\n' "$name" "$s" "$(rate "$bytes" "$s")"; }

echo
echo "| hashing (1 file, ${BYTES} B) | best of 3 | throughput |"
echo "|---|---|---|"
row "palisade model lock (sha256, SHA-NI)" "$BYTES" "$P" model lock "$CKPT" --output "$OUT/models.lock"
row "sha256sum (coreutils)" "$BYTES" sha256sum "$CKPT"
openssl version >/dev/null 2>&1 && row "openssl dgst -sha256" "$BYTES" openssl dgst -sha256 "$CKPT"

# Directory model of 4 files of SIZE/4 (parallel hashing over files).
mkdir -p "$OUT/dirmodel"
for i in 0 1 2 3; do
  [ -f "$OUT/dirmodel/shard$i.bin" ] || head -c $((SIZE / 4 * 1048576)) "$CKPT" > "$OUT/dirmodel/shard$i.bin"
done
DBYTES=$(du -cb "$OUT"/dirmodel/shard*.bin | tail -1 | cut -f1)
[ -f "$OUT/key.pem" ] || "$P" model keygen --private-key "$OUT/key.pem" --public-key "$OUT/pub.pem" >/dev/null
echo
echo "| signing a 4-file directory model (${DBYTES} B) | best of 3 | throughput |"
echo "|---|---|---|"
row "palisade model sign" "$DBYTES" "$P" model sign "$OUT/dirmodel" --private-key "$OUT/key.pem" --signature "$OUT/p.sig"
row "palisade model verify" "$DBYTES" "$P" model verify "$OUT/dirmodel" --public-key "$OUT/pub.pem" --signature "$OUT/p.sig"
MS=target/py-model-signing/bin/model_signing
if [ -x "$MS" ]; then
  row "model_signing sign key (1.1.1)" "$DBYTES" "$MS" sign key "$OUT/dirmodel" --private_key "$OUT/key.pem" --signature "$OUT/ms.sig"
  row "model_signing verify key (1.1.1)" "$DBYTES" "$MS" verify key "$OUT/dirmodel" --public_key "$OUT/pub.pem" --signature "$OUT/ms.sig"
fi

# Scanners: installed into their own venv (PyPI), run on the same files.
V=target/py-bench
[ -x "$V/bin/picklescan" ] || { python3 -m venv "$V" && "$V/bin/pip" install -q picklescan modelscan; }
echo
echo "| scanning | file | best of 3 | throughput |"
echo "|---|---|---|---|"
for f in "$CKPT" "$BIGPKL"; do
  b=$(stat -c %s "$f")
  for tool in "palisade model scan" "picklescan" "modelscan"; do
    case $tool in
      palisade*) cmd=("$P" model scan "$f") ;;
      picklescan) cmd=("$V/bin/picklescan" --path "$f") ;;
      modelscan) cmd=("$V/bin/modelscan" -p "$f") ;;
    esac
    s=$(best "${cmd[@]}")
    printf '| %s | %s | %.3f s | %s GB/s |\n' "$tool" "$(basename "$f")" "$s" "$(rate "$b" "$s")"
  done
done
echo
echo "peak memory, palisade model scan on the big pickle:"
/usr/bin/time -f '%M KiB max RSS, %e s' "$P" model scan "$BIGPKL" >/dev/null
