#!/usr/bin/env bash
# Runs every ./lora4j command shown in README.md, in order, on the real base model and SST-2, so the
# README cannot rot. Called by .ci/run after the tests; CliReferenceTest checks that each README
# command appears here verbatim. Takes a few minutes on two CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# `run --base classpath:...` extracts a packaged base (~170 MB) into the base-model cache; each run
# packages a new one, so the default ~/.cache/lora4j would grow by that much on every check
export LORA4J_CACHE="$WORK/cache"
step() { echo; echo "== readme-check: $*"; }

step "./lora4j demo"
./lora4j demo --quiet --out "$WORK/demo" | tail -n 6

# the README's five steps, verbatim (they write adapters/ and export/, which git ignores)
run() { echo "+ $*"; "$@"; }
step "five steps"
run ./lora4j inspect minilm-l6 | head -n 12
run ./lora4j train --method sora --rank 16 --epochs 1 --out adapters/sst2-sora --quiet | tail -n 3
run ./lora4j export --adapter adapters/sst2-sora --out export/sst2 | tail -n 4
run ./lora4j run --base export/sst2 --adapter sst2-sora "a gripping , funny film"
./lora4j serve --base export/sst2 --port 8080 > "$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 60); do
  if curl -sf http://127.0.0.1:8080/health > /dev/null; then break; fi
  sleep 1
done
curl -sf http://127.0.0.1:8080/predict -H 'Content-Type: application/json' -d '{"adapter": "sst2-sora", "text": "a gripping , funny film"}'
echo
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

step "int8 base, calibrated"
run ./lora4j export --adapter adapters/sst2-sora --out export/sst2-int8 --format multi --quantize int8 --calibration ../shared/data/sst2/train.tsv | tail -n 4
run ./lora4j run --base export/sst2-int8 --adapter sst2-sora --int8 "a gripping , funny film"

step "adapters as Maven artifacts (the mvn install line is left out: it would write to ~/.m2; MavenConsumerTest runs it)"
run ./lora4j package --adapter export/sst2/sst2-sora.onnx_adapter --group-id com.example --version 1.0.0 --out export/maven
run ./lora4j package --base export/sst2 --name minilm-sst2 --group-id com.example --version 1.0.0 --out export/maven
LORA4J_CLASSPATH=export/maven/sst2-sora-1.0.0.jar:export/maven/minilm-sst2-1.0.0.jar ./lora4j run --base classpath:minilm-sst2 --adapter classpath:sst2-sora "a gripping , funny film"

step "serving many adapters"
./lora4j serve --base export/sst2 --port 8081 --adapter-budget 64 --pin sst2-sora > "$WORK/serve-pin.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 60); do
  if curl -sf http://127.0.0.1:8081/health > /dev/null; then break; fi
  sleep 1
done
curl -sf http://127.0.0.1:8081/adapters/sst2-sora | grep -q '"pinned":true'
curl -sf 'http://127.0.0.1:8081/metrics?format=prometheus' | grep -x 'lora4j_adapters_pinned 1'
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
echo "readme-check: every README command ran"
