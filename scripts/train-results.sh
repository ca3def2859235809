#!/usr/bin/env bash
# Trains the SST-2 adapters behind docs/RESULTS.md with the ./lora4j launcher and writes that file:
# every method on the same seed, data subset and budget, then one table (dev accuracy, ranks kept,
# trainable parameters, exported adapter size, wall time) and a rank heat map per method.
# Not part of CI: on 2 CPU cores the full data takes hours (run it with nohup; logs go to $OUT/*.log).
#   OUT        where adapters and logs go (default lora4j-out/results)
#   EPOCHS     epochs for the adapters (default 1); PROBE_EPOCHS for the probe (default 2)
#   MAX_TRAIN  training examples after a seeded shuffle, 0 = all 6,920 (default 0)
#   SORA_LAMBDA, SORA_GATE_LR  SoRA's final L1 strength and gate step (default 5e-4, 200)
#   ONLY       space-separated run names to train (default: all); others already in $OUT are reused
#   REPORT_ONLY=1  train nothing, write docs/RESULTS.md from the runs already in $OUT
#   NO_REPORT=1    train, but leave docs/RESULTS.md alone
#   SEEDS      space-separated seeds (default 42); each seed's runs go to $OUT/s<seed>/, and the report
#              gives the mean and spread over the seeds present
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-lora4j-out/results}"
EPOCHS="${EPOCHS:-1}"
PROBE_EPOCHS="${PROBE_EPOCHS:-2}"
MAX_TRAIN="${MAX_TRAIN:-0}"
ONLY="${ONLY:-}"
SEEDS="${SEEDS:-42}"
mkdir -p "$OUT"
COMMANDS="$OUT/commands.txt"
touch "$COMMANDS"

train() { # name, options...
  local name="$1"; shift
  local dir="$OUT/s$SEED/$name"
  local cmd="./lora4j train --base minilm-l6 --max-length 64 --batch-size 32 --seed $SEED --max-train $MAX_TRAIN --quiet --out $dir $*"
  if [ -n "${REPORT_ONLY:-}" ] || { [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; }; then
    return 0
  fi
  grep -v -- "--out $dir " "$COMMANDS" > "$COMMANDS.tmp" || true
  mv "$COMMANDS.tmp" "$COMMANDS"
  echo "$cmd" >> "$COMMANDS"
  echo "== $cmd"
  mkdir -p "$OUT/s$SEED"
  $cmd > "$dir.log" 2>&1
  tail -n 4 "$dir.log"
}

# one budget for every adapter: rank 8 (SoRA / SaLoRA start at 16 and prune), alpha = 2r, lr 1e-3
A="--lr 1e-3 --epochs $EPOCHS"
# the rank sweep scores 200 dev sentences per probe (about 37 probes): tolerance 1% = 2 sentences
SWEEP="--export-rank auto --sweep-examples 200 --tolerance 0.01"
for SEED in $SEEDS; do
train probe --method probe --lr 5e-3 --epochs "$PROBE_EPOCHS"
train lora-r8 --method lora --rank 8 --alpha 16 $A
train sora-r16 --method sora --rank 16 --alpha 32 $A --gate-lr "${SORA_GATE_LR:-200}" --sparsity-lambda "${SORA_LAMBDA:-5e-4}" --lambda-schedule linear
train salora-r16 --method salora --rank 16 --alpha 32 $A --target-sparsity 0.5
train mtlora-r8 --method mtlora --rank 8 --alpha 16 $A --transform full
train dylora-r8 --method dylora --rank 8 --alpha 16 $A $SWEEP
train erat-r8 --method erat --rank 8 --alpha 16 $A $SWEEP
done
[ -n "${NO_REPORT:-}" ] && exit 0
./lora4j --help > /dev/null # builds the report's classes too when sources changed since the last build

java ${LORA4J_JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true -Djava.awt.headless=true \
  -cp "$ROOT/cli/target/classes:$(cat "$ROOT/cli/target/lora4j.classpath")" \
  dev.lora4j.cli.TrainResults "$OUT" docs/RESULTS.md "$COMMANDS" \
  probe lora-r8 sora-r16 salora-r16 mtlora-r8 dylora-r8 erat-r8
