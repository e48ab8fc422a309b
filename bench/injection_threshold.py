"""Recall and false-positive rate of the prompt-injection detector at several
policy thresholds, as the gateway's `standard` policy applies it.

Positives and negatives: deepset test split (labelled) plus the self-instruct
user-oriented instructions (benign). Needs ../shared/data and a built binary.

Usage: python3 bench/injection_threshold.py [DATA_ROOT] [PALISADE_BINARY]
"""

import json
import subprocess
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
binary = sys.argv[2] if len(sys.argv) > 2 else "target/debug/palisade"
rows = []
with open(f"{root}/prompt_injection/deepset-prompt-injections/test.jsonl") as f:
    for line in f:
        d = json.loads(line)
        rows.append((d["text"].replace("\n", " "), int(d.get("label", 0))))
with open(f"{root}/prompt_injection/self-instruct-benign/user_oriented_instructions.jsonl") as f:
    for line in f:
        d = json.loads(line)
        inputs = " ".join(i.get("input", "") for i in d.get("instances", []) if isinstance(i, dict))
        rows.append(((d.get("instruction", "") + " " + inputs).replace("\n", " "), 0))
text = "\n".join(r[0] for r in rows) + "\n"
out = subprocess.run([binary, "scan", "--per-line", "--format", "json", "-"], input=text.encode(),
                     capture_output=True, check=False).stdout.decode().splitlines()
scores = []
for line in out:
    found = json.loads(line)["findings"]
    scores.append(max((x["score"] for x in found if x["kind"] == "prompt_injection"), default=0.0))
positives = sum(1 for _, y in rows if y == 1)
negatives = len(rows) - positives
print("| threshold | recall | false-positive rate |")
print("|---:|---:|---:|")
for thr in (0.75, 0.8, 0.85, 0.9):
    tp = sum(1 for (_, y), s in zip(rows, scores) if y == 1 and s >= thr)
    fp = sum(1 for (_, y), s in zip(rows, scores) if y == 0 and s >= thr)
    print(f"| {thr:.2f} | {tp}/{positives} = {tp / positives:.2f} | {fp}/{negatives} = {fp / negatives:.3f} |")
