#!/usr/bin/env bash
# The worked example of docs/EXPORT.md "Combining adapters": two LoRA r=8 SST-2 adapters that differ only
# in their seed (trained by scripts/frontier-train.sh), combined by `lora4j export --combine` linearly and
# by TIES, then every adapter scored on the SST-2 dev set by `lora4j run --input`.
#   OUT  the frontier directory (default lora4j-out/frontier); SEEDS  the two seeds (default "42 43")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-lora4j-out/frontier}"
read -r S1 S2 <<< "${SEEDS:-42 43}"
W="$OUT/combine"
mkdir -p "$W"
# one name per seed: both runs are called lora-r8, and an export's adapter names must differ
for s in "$S1" "$S2"; do
  ./lora4j export --adapter "$OUT/s$s/lora-r8" --name "sst2-s$s" --format multi --overwrite --out "$W/s$s" > /dev/null
done
A="$W/s$S1/sst2-s$S1.onnx_adapter"
B="$W/s$S2/sst2-s$S2.onnx_adapter"
./lora4j export --adapter "$A" --adapter "$B" --format multi --overwrite --out "$W/linear" \
  --combine "sst2-linear=sst2-s$S1:0.5,sst2-s$S2:0.5" --combine-method linear > /dev/null
./lora4j export --adapter "$A" --adapter "$B" --format multi --overwrite --out "$W/ties" \
  --combine "sst2-ties=sst2-s$S1:1,sst2-s$S2:1" --combine-method ties --density 0.5 > /dev/null
score() { # export dir, adapter
  ./lora4j run --base "$1" --adapter "$2" --max-tokens 64 --input ../shared/data/sst2/dev.tsv | grep -i accuracy
}
for x in "s$S1 sst2-s$S1" "s$S2 sst2-s$S2" "linear sst2-linear" "ties sst2-ties"; do
  read -r d n <<< "$x"
  echo "$n: $(score "$W/$d" "$n") ($(stat -c %s "$W/$d/$n.onnx_adapter") bytes)"
done
