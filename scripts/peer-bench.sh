#!/usr/bin/env bash
# Peer benchmark (issue 16): Hugging Face PEFT LoRA and lora4j LoRA trained back to back with the same
# settings, base weights, sentences and batch order, in float32 and in bfloat16 (lora4j --precision bf16,
# PEFT under torch.autocast(bfloat16)), each followed by inference over the dev set in batches of 32 and one
# sentence at a time (lora4j: what users serve with, the exported adapter in the runtime on ONNX Runtime,
# float32 and int8; also its trainer's evaluation);
# writes a table (tokens/s, accuracy, lora4j/PEFT ratio, the load during each run) between <!-- begin peer --> and
# <!-- end peer --> in docs/RESULTS.md. Runs alternate lora4j / PEFT so load drifts hit both alike;
# measure on an idle machine (the table records the 1-minute load average before and after each run).
# Needs python3 with torch, transformers, peft, tokenizers and onnx (peer side only; see scripts/peer/).
#   MAX_TRAIN  training sentences after lora4j's seeded shuffle, 0 = all (default 0)
#   SEEDS      space-separated seeds, each a full lora4j/PEFT round (default "42 43 44"; SEED=n is one seed)
#   EPOCHS     (default 1)   RANK (8)   ALPHA (16)   LR (1e-3)   BATCH (32)   MAXLEN (64)
#   PRECISIONS space-separated, from fp32 bf16 (default "fp32 bf16")
#   THREADS    PyTorch threads on the peer side (default: the CPU count, what lora4j's engine uses)
#   OUT        working directory (default lora4j-out/peer)
#   NO_REPORT=1  leave docs/RESULTS.md alone
#   REPORT_ONLY=1  train nothing: rewrite the table from $OUT/results.tsv
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MAX_TRAIN="${MAX_TRAIN:-0}"; EPOCHS="${EPOCHS:-1}"; SEEDS="${SEEDS:-${SEED:-42 43 44}}"; RANK="${RANK:-8}"; ALPHA="${ALPHA:-16}"
LR="${LR:-1e-3}"; BATCH="${BATCH:-32}"; MAXLEN="${MAXLEN:-64}"; PRECISIONS="${PRECISIONS:-fp32 bf16}"
THREADS="${THREADS:-$(nproc)}"; OUT="${OUT:-lora4j-out/peer}"
TRAIN="../shared/data/sst2/train.tsv"; DEV="../shared/data/sst2/dev.tsv"
BASE_DIR="${LORA4J_BASE_DIR:-$HOME/.cache/lora4j/base/minilm-l6}"
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
[ "${REPORT_ONLY:-0}" = 1 ] || printf 'seed\tside\tprecision\ttrain_tok_s\tdev_acc\tinfer_sent_s\tload_before\tload_after\tseconds\tserved_sent_s\tserved_int8_sent_s\tserved_int8_acc\tserved1_sent_s\tserved1_int8_sent_s\n' > "$RESULTS"
load1() { cut -d' ' -f1 /proc/loadavg; }
# The CPU the ratios were taken on (they depend on its matrix instructions: VNNI for int8, AVX-512 BF16 / AMX
# for bfloat16), as lora4j bench's report names it.
cpu_desc() {
  local model flags f have=""
  model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) "
  for f in avx2 avx512f avx_vnni avx512_vnni avx512_bf16 amx_bf16 amx_int8; do
    case "$flags" in *" $f "*) have="$have $f" ;; esac
  done
  echo "${model:-$(uname -m)}${have:+,$have}"
}

# The dev set in the order PEFT evaluates it (token count after truncation, ties in file order), so the
# runtime's batches of 32 hold the same sentences as PEFT's.
DEV_SORTED="$OUT/dev.by-length.tsv"
sorted_dev() {
  [ -s "$DEV_SORTED" ] && return 0
  python3 - "$BASE_DIR/tokenizer.json" "$DEV" "$MAXLEN" > "$DEV_SORTED" <<'PY'
import sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
tok.enable_truncation(int(sys.argv[3]))
tok.no_padding()
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
rows = lines[1:]
lengths = [len(e.ids) for e in tok.encode_batch([r.split("\t")[0] for r in rows])]
print(lines[0])
for i in sorted(range(len(rows)), key=lambda i: lengths[i]):
    print(rows[i])
PY
}

lora4j_run() { # precision seed
  local p="$1" SEED="$2" dir="$OUT/lora4j-$1-s$2" before after t0 t1 log="$OUT/lora4j-$1-s$2.log"
  before=$(load1); t0=$(date +%s)
  ./lora4j train --method lora --rank "$RANK" --alpha "$ALPHA" --lr "$LR" --batch-size "$BATCH" \
    --max-length "$MAXLEN" --epochs "$EPOCHS" --seed "$SEED" --max-train "$MAX_TRAIN" --precision "$p" \
    --train "$TRAIN" --dev "$DEV" --quiet --overwrite --out "$dir" > "$log" 2>&1
  ./lora4j eval --adapter "$dir" --data "$DEV" > "$dir.eval" 2>&1
  # served: the exported multi graph in the runtime, loaded, PEFT's batches (the time run prints
  # counts only its predict calls)
  sorted_dev
  ./lora4j export --adapter "$dir" --name peer --format multi --quantize int8 --calibration "$TRAIN" --out "$dir.export" > "$dir.export.log" 2>&1
  local b int8
  for b in 32 1; do
    for int8 in "" --int8; do
      ./lora4j run --base "$dir.export" --adapter peer --input "$DEV_SORTED" --batch "$b" --max-tokens "$MAXLEN" \
        --device cpu $int8 > "$dir.served-b$b$int8" 2>&1
    done
  done
  t1=$(date +%s); after=$(load1)
  local tps acc secs n
  tps=$(sed -n 's/.*(\([0-9.,]*\) training tokens\/s).*/\1/p' "$log" | tr -d ,)
  acc=$(sed -n 's/^Accuracy *\([0-9.]*\)%.*/\1/p' "$dir.eval")
  secs=$(sed -n 's/^Time *\([0-9.]*\) s.*/\1/p' "$dir.eval")
  n=$(($(wc -l < "$DEV") - 1))
  printf '%s\tlora4j\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SEED" "$p" "$tps" "$acc" "$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.1f", n/s}')" \
    "$before" "$after" "$((t1 - t0))" "$(texts_per_s "$dir.served-b32")" "$(texts_per_s "$dir.served-b32--int8")" \
    "$(sed -n 's/^accuracy \([0-9.]*\)%.*/\1/p' "$dir.served-b32--int8")" "$(texts_per_s "$dir.served-b1")" \
    "$(texts_per_s "$dir.served-b1--int8")" >> "$RESULTS"
}
texts_per_s() { sed -n 's/^[0-9]* texts in [0-9.]* s: \([0-9]*\) texts\/s.*/\1/p' "$1"; }

peft_run() { # precision seed
  local p="$1" SEED="$2" before after t0 t1 json="$OUT/peft-$1-s$2.json"
  if [ ! -s "$BASE_DIR/model.onnx" ]; then
    echo "peer-bench: no $BASE_DIR/model.onnx (lora4j unpacks its built-in MiniLM there on its first run;" \
      "or set LORA4J_BASE_DIR to a directory with model.onnx and tokenizer.json)" >&2
    exit 1
  fi
  before=$(load1); t0=$(date +%s)
  python3 scripts/peer/peft_train.py --base-dir "$BASE_DIR" --train "$TRAIN" --dev "$DEV" --max-train "$MAX_TRAIN" \
    --epochs "$EPOCHS" --rank "$RANK" --alpha "$ALPHA" --lr "$LR" --batch-size "$BATCH" --max-length "$MAXLEN" \
    --seed "$SEED" --threads "$THREADS" --precision "$p" 2> "$OUT/peft-$p-s$SEED.log" | tail -1 > "$json"
  t1=$(date +%s); after=$(load1)
  python3 - "$json" "$p" "$before" "$after" "$((t1 - t0))" "$SEED" >> "$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
# PEFT's own inference fills the served columns of its row: batch 32, -, -, batch 1, -
print(sys.argv[6] + "\tpeft\t%s\t%s\t%.2f\t%.1f\t%s\t%s\t%s\t%.1f\t\t\t%.1f\t" % (sys.argv[2], r["train_tokens_per_second"],
      100 * r["dev_accuracy"], r["dev_examples"] / r["infer_seconds"], sys.argv[3], sys.argv[4], sys.argv[5],
      r["dev_examples"] / r["infer_seconds"], r["dev_examples"] / r["infer1_seconds"]))
PY
}

if [ "${REPORT_ONLY:-0}" != 1 ]; then
  for seed in $SEEDS; do
    for p in $PRECISIONS; do
      lora4j_run "$p" "$seed"
      peft_run "$p" "$seed"
    done
  done
fi
cat "$RESULTS"
[ "${NO_REPORT:-0}" = 1 ] && exit 0

TABLE="$OUT/table.md"
python3 - "$RESULTS" > "$TABLE" <<PY
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
seeds = sorted({r["seed"] for r in rows})
print("Produced by \`scripts/peer-bench.sh\` (MAX_TRAIN=$MAX_TRAIN, EPOCHS=$EPOCHS, seeds " + ", ".join(seeds) + ", r=$RANK, "
      "alpha=$ALPHA, lr=$LR, batch $BATCH, max length $MAXLEN, $THREADS threads; $(nproc) CPUs: $(cpu_desc); $(date -u +%Y-%m-%d)). Both sides: "
      "lora4j's MiniLM weights, the same sentences in the same length-bucketed batch order, LoRA on query and value, "
      "masked mean pooling, AdamW, warm-up 6 % then linear decay, clip 1.0. bf16: lora4j --precision bf16 (frozen base "
      "in bfloat16), PEFT under torch.autocast(bfloat16). Train tokens/s counts real tokens (no padding), dev evaluation "
      "excluded. Inference, whole dev set, float32 unless int8, sentences/s: PEFT runs its model (PyTorch eager, loaded, "
      "sentences tokenized beforehand) over the dev set sorted by length, in batches of 32 and then one sentence a call; "
      "lora4j serves the adapter as its users do, \`lora4j run --batch 32\` and \`--batch 1\` on the adapter exported as "
      "a multi graph (ONNX Runtime, loaded; tokenizing included) over the same sentences in the same order, float32 and "
      "with \`--int8\` (the base's MatMuls in int8, \`export --quantize int8 --calibration\` on the training file; its dev accuracy in the detail table). "
      "Served ratios are against PEFT's float32 inference of the same seed and batch size (the runtime serves float32 "
      "or int8 whatever the training precision). The detail table also has lora4j's evaluation after training (its "
      "trainer on DJL, loading included). Each seed is one round run back to back in the "
      "order of the rows; ratios are taken within a round (against PEFT of the same seed), then averaged (mean ± sd). "
      "Load: 1-minute load average before / after each run, in the detail table.")
print()
def f(r, k): return float(r[k])
def ms(xs, fmt): return (fmt % st.mean(xs)) + ((" ± " + fmt % st.stdev(xs)) if len(xs) > 1 else "")
def cell(r, k): return r.get(k) or ""
peft = {(r["seed"], r["precision"]): r for r in rows if r["side"] == "peft"}
def served(rs, k, peft_k):
    v = [float(cell(r, k)) for r in rs if cell(r, k)]
    x = [float(cell(r, k)) / float(cell(peft[(r["seed"], "fp32")], peft_k)) for r in rs
         if cell(r, k) and (r["seed"], "fp32") in peft and cell(peft[(r["seed"], "fp32")], peft_k)]
    return (ms(v, "%.0f") + (" (" + ms(x, "%.2fx") + ")" if x else "")) if v else "-"
print("| side | precision | train tokens/s | vs PEFT same precision | vs PEFT fp32 | dev accuracy % "
      "| inference, batch 32 | batch 1 | int8, batch 32 | int8, batch 1 | seeds |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for side, prec in dict.fromkeys((r["side"], r["precision"]) for r in rows):
    rs = [r for r in rows if r["side"] == side and r["precision"] == prec]
    same = [f(r, "train_tok_s") / f(peft[(r["seed"], prec)], "train_tok_s") for r in rs if (r["seed"], prec) in peft]
    fp32 = [f(r, "train_tok_s") / f(peft[(r["seed"], "fp32")], "train_tok_s") for r in rs if (r["seed"], "fp32") in peft]
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (side, prec, ms([f(r, "train_tok_s") for r in rs], "%.0f"),
          ms(same, "%.2fx") if same else "-", ms(fp32, "%.2fx") if fp32 else "-", ms([f(r, "dev_acc") for r in rs], "%.2f"),
          served(rs, "served_sent_s", "served_sent_s"), served(rs, "served1_sent_s", "served1_sent_s"),
          served(rs, "served_int8_sent_s", "served_sent_s"), served(rs, "served1_int8_sent_s", "served1_sent_s"), len(rs)))
print()
print("<details><summary>Every run</summary>")
print()
print("| seed | side | precision | train tokens/s | dev accuracy % | evaluation after training, sentences/s "
      "| batch 32 float32 / int8 | batch 1 float32 / int8 | int8 dev accuracy % | load before / after | wall s |")
print("|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
def pair(r, a, b): return " / ".join(x for x in (cell(r, a), cell(r, b)) if x) or "-"
for r in rows:
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |" % (r["seed"], r["side"], r["precision"],
          r["train_tok_s"], r["dev_acc"], r["infer_sent_s"], pair(r, "served_sent_s", "served_int8_sent_s"),
          pair(r, "served1_sent_s", "served1_int8_sent_s"), cell(r, "served_int8_acc") or "-", r["load_before"],
          r["load_after"], r["seconds"]))
print()
print("</details>")
PY
python3 - docs/RESULTS.md "$TABLE" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
doc = open(path).read()
begin, end = "<!-- begin peer -->", "<!-- end peer -->"
block = begin + "\n" + table + "\n" + end
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip("\n") + "\n\n## Peer benchmark: lora4j vs Hugging Face PEFT\n\n" + block + "\n"
open(path, "w").write(doc)
PY
echo "table written to docs/RESULTS.md"
