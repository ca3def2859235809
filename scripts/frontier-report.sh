#!/usr/bin/env bash
# Scores the adapters scripts/frontier-train.sh trained and writes the frontier table of
# docs/RESULTS.md and docs/results-frontier.png: every spec line below is one series of the chart,
# exported by `lora4j export` with the options given (once per budget, `{}` replaced by it), each
# point scored by the runtime on the dev set and on the held-out slice. Points already scored are
# kept in $OUT/points.tsv; delete it to score everything again.
#   OUT  the frontier directory (default lora4j-out/frontier)
#   SPEC_ONLY  a file of spec lines to score instead of the list below (e.g. a few series first)
#   NO_SCORE=1 write the report from the points already scored
#   RUNS   frontier (default) or tune: the recipe search's runs (frontier-train.sh RUNS=tune), written
#          to RESULTS.md's tune table with held-out accuracy only (settings are chosen on it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-lora4j-out/frontier}"
SPEC="$OUT/spec.txt"
cat > "$SPEC" <<'SPECS'
# series | runs | export options | budgets
LoRA (plain, fp32) | lora-r1 lora-r2 lora-r4 lora-r8 lora-r16 | |
LoRA fp16 | lora-r1 lora-r2 lora-r4 lora-r8 lora-r16 | --adapter-dtype fp16 |
LoRA int8 | lora-r1 lora-r2 lora-r4 lora-r8 lora-r16 | --adapter-dtype int8 |
LoRA r=8, SVD rank budget | lora-r8 | --rank-budget {} | 24 48 72
LoRA r=16, SVD rank budget | lora-r16 | --rank-budget {} | 48 96 144
LoRA r=8, SVD rank budget, fp16 | lora-r8 | --rank-budget {} --adapter-dtype fp16 | 48 72
SoRA r=16, lambda 1e-3 / 2e-3 / 4e-3 | sora-r16-l1e-3 sora-r16-l2e-3 sora-r16-l4e-3 | |
SoRA r=16, fp16 | sora-r16-l1e-3 sora-r16-l2e-3 sora-r16-l4e-3 | --adapter-dtype fp16 |
SaLoRA r=16, target sparsity 0.5 / 0.7 / 0.85 | salora-r16-s0.5 salora-r16-s0.7 salora-r16-s0.85 | |
MTLoRA r=4 / 8 | mtlora-r4 mtlora-r8 | |
DyLoRA r=8 / ERAT r=8, all ranks | dylora-r8 erat-r8 | |
DyLoRA r=8, truncated by SVD budget | dylora-r8 | --rank-budget {} | 12 24 48 96
ERAT r=8, truncated by SVD budget | erat-r8 | --rank-budget {} | 12 24 48 96
ERAT r=8, truncated by SVD budget, int8 | erat-r8 | --rank-budget {} --adapter-dtype int8 | 12 24
LoRA r=8, SVD rank budget, int8 | lora-r8 | --rank-budget {} --adapter-dtype int8 | 24 48
SoRA r=16, lambda 1e-3, lr 2e-3 (the recipe search's pick) | sora-r16-l1e-3-lr2e-3 | |
SoRA r=16, lambda 1e-3, lr 2e-3, int8 | sora-r16-l1e-3-lr2e-3 | --adapter-dtype int8 |
LoRA r=8, lr 2e-3 (the same rate) | lora-r8-lr2e-3 | |
LoRA r=8, lr 2e-3, int8 | lora-r8-lr2e-3 | --adapter-dtype int8 |
3 epochs: LoRA r=8 | lora-r8-e3 | |
3 epochs: LoRA r=8, SVD rank budget | lora-r8-e3 | --rank-budget {} | 24 48
3 epochs: ERAT r=8, truncated by SVD budget | erat-r8-e3 | --rank-budget {} | 12 24 48
SPECS
TABLE="frontier"; CHART="docs/results-frontier.png"
if [ "${RUNS:-frontier}" = tune ]; then
  TABLE="tune"; CHART="-"; SPEC="$OUT/spec-tune.txt"
  cat > "$SPEC" <<'SPECS'
SoRA r=8, lambda 1e-3 | sora-r8-l1e-3 | |
SoRA r=16, lambda 5e-4 | sora-r16-l5e-4 | |
SoRA r=16, lambda 1e-3, linear schedule (frontier run) | sora-r16-l1e-3 | |
SoRA r=16, lambda 1e-3, constant schedule | sora-r16-l1e-3-constant | |
SoRA r=16, lambda 1e-3, cosine schedule | sora-r16-l1e-3-cosine | |
SoRA r=16, lambda 1e-3, gate step 30 | sora-r16-l1e-3-gate30 | |
SoRA r=16, lambda 1e-3, gate step 300 | sora-r16-l1e-3-gate300 | |
SoRA r=16, lambda 1e-3, lr 2e-3 | sora-r16-l1e-3-lr2e-3 | |
SoRA r=8 on all 36 modules, lambda 2e-3 | sora-r8-all-l2e-3 | |
SaLoRA r=8, target 0.5 | salora-r8-s0.5 | |
SaLoRA r=16, target 0.7 (frontier run) | salora-r16-s0.7 | |
SaLoRA r=16, target 0.7, reached at 25 % | salora-r16-s0.7-warmup0.25 | |
SaLoRA r=16, fixed L0 strength 0.01 (no target) | salora-r16-l0lambda0.01 | |
SaLoRA r=16, target 0.5 (frontier run) | salora-r16-s0.5 | |
LoRA r=8 (frontier run) | lora-r8 | |
LoRA r=8, lr 2e-3 | lora-r8-lr2e-3 | |
3 epochs: LoRA r=8 | lora-r8-e3 | |
3 epochs: SoRA r=16, lambda 1e-3 | sora-r16-l1e-3-e3 | |
3 epochs: ERAT r=8, cut to 24 ranks | erat-r8-e3 | --rank-budget 24 |
1 epoch: ERAT r=8, cut to 24 ranks (frontier run) | erat-r8 | --rank-budget 24 |
SPECS
fi
[ -n "${SPEC_ONLY:-}" ] && SPEC="$SPEC_ONLY"
./lora4j --help > /dev/null # builds the report's classes too when sources changed since the last build
java ${LORA4J_JAVA_OPTS:--Xmx8g} -Dfrontier.noScore="${NO_SCORE:+true}" -Dai.djl.offline=true -Djava.awt.headless=true \
  -cp "$ROOT/cli/target/classes:$(cat "$ROOT/cli/target/lora4j.classpath")" \
  dev.lora4j.cli.FrontierReport "$OUT" "$SPEC" docs/RESULTS.md "$CHART" "$TABLE"
