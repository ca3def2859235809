#!/usr/bin/env bash
# Trains the SST-2 adapters behind docs/RESULTS.md with the ./lora4j launcher and writes that file.
# Not part of CI: on 2 CPU cores this takes about an hour (run it with nohup; logs go to $OUT/*.log).
#   OUT      where adapters and logs go (default lora4j-out/results)
#   EPOCHS   epochs for the adapters (default 1); PROBE_EPOCHS for the probe (default 2)
#   SORA_LAMBDA / SORA_GATE_LR  SoRA's final L1 strength and gate step size (default 5e-4 / 200)
#   SKIP_SORA, SKIP_LORA, SKIP_PROBE, SKIP_REPORT  set to skip a part (e.g. to retrain one method)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-lora4j-out/results}"
EPOCHS="${EPOCHS:-1}"
PROBE_EPOCHS="${PROBE_EPOCHS:-2}"
mkdir -p "$OUT"
COMMON="--base minilm-l6 --max-length 64 --batch-size 32 --seed 42 --quiet"
COMMANDS="$OUT/commands.txt"

train() { # name, options...
  local name="$1"; shift
  local cmd="./lora4j train $COMMON --out $OUT/$name $*"
  echo "$cmd" > "$OUT/$name.cmd"
  echo "== $cmd"
  $cmd > "$OUT/$name.log" 2>&1
  tail -n 4 "$OUT/$name.log"
}

[ "${SKIP_SORA:-}" ] || train sora-r16 --method sora --rank 16 --alpha 32 --lr 1e-3 --epochs "$EPOCHS" \
  --gate-lr "${SORA_GATE_LR:-200}" --sparsity-lambda "${SORA_LAMBDA:-5e-4}" --lambda-schedule linear
[ "${SKIP_LORA:-}" ] || train lora-r8 --method lora --rank 8 --alpha 16 --lr 1e-3 --epochs "$EPOCHS"
[ "${SKIP_PROBE:-}" ] || train probe --method probe --lr 5e-3 --epochs "$PROBE_EPOCHS"

[ "${SKIP_REPORT:-}" ] && exit 0
cat "$OUT"/sora-r16.cmd "$OUT"/lora-r8.cmd "$OUT"/probe.cmd > "$COMMANDS" 2>/dev/null || true
java ${LORA4J_JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true -cp "$ROOT/cli/target/classes:$(cat "$ROOT/cli/target/lora4j.classpath")" \
  dev.lora4j.cli.TrainResults "$OUT" docs/RESULTS.md "$COMMANDS" probe lora-r8 sora-r16
