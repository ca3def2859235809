"""PEFT LoRA on the same base, data, order and settings as `lora4j train --method lora`, for scripts/peer-bench.sh.

The peer side of the benchmark: Hugging Face PEFT on PyTorch (CPU), trained the way lora4j trains, so the
two throughputs compare like for like:
  * base: lora4j's own MiniLM (model.onnx + tokenizer.json of `--base-dir`), its weights copied into a
    transformers BertModel (ONNX MatMul initialisers transposed back to Linear weights);
  * data: lora4j's subset (java.util.Random(seed) shuffle, first --max-train rows) and its length-bucketed
    batches (trainer/data/BatchPlan: shuffle, windows of 50 batches sorted by length, batches shuffled),
    reproduced bit for bit with a port of java.util.Random, so both see the same sentences in the same
    batches in the same order;
  * model: LoRA r/alpha/dropout 0.1 on query and value, masked mean pooling, head dropout 0.1, one linear
    layer initialised N(0, 0.02) (trainer/head/ClassifierHead);
  * optimisation: AdamW (decay 0.01 on LoRA A, B and the head weight, not the head bias), linear warm-up over
    6 % of the steps then linear decay to 0, global gradient-norm clip 1.0, same lr for adapter and head;
  * --precision bf16: the forward pass under torch.autocast("cpu", dtype=torch.bfloat16) (PEFT's usual
    mixed precision: parameters and optimizer stay float32);
  * evaluation in float32, batches of 32 sorted by length, as lora4j evaluates; then the dev set once more
    one sentence a call, in the same order.
Prints one JSON object: train tokens/s (real tokens, padding excluded, as lora4j counts), dev accuracy,
inference time over the dev set in batches of 32 and one sentence at a time.

Python is only the peer here; lora4j never depends on it.
"""
import argparse
import json
import time

import onnx
import torch
from onnx import numpy_helper
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel


class JavaRandom:
    """java.util.Random: the 48-bit linear congruential generator and nextInt(bound)."""

    MASK = (1 << 48) - 1

    def __init__(self, seed):
        self.seed = (seed ^ 0x5DEECE66D) & self.MASK

    def _next(self, bits):
        self.seed = (self.seed * 0x5DEECE66D + 0xB) & self.MASK
        r = self.seed >> (48 - bits)
        return r - (1 << 32) if r >= (1 << 31) else r

    def next_int(self, bound):
        if bound & -bound == bound:
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            val = bits % bound
            if ((bits - val + (bound - 1)) & 0xFFFFFFFF) < (1 << 31):
                return val

    def shuffle(self, items):
        """Collections.shuffle(list, rnd) for a random-access list."""
        for i in range(len(items), 1, -1):
            j = self.next_int(i)
            items[i - 1], items[j] = items[j], items[i - 1]


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            line = line.rstrip("\n")
            if line:
                text, label = line.rsplit("\t", 1)
                rows.append((text, label))
    return rows


def batch_plan(lengths, batch_size, seed, epoch, window_batches=50):
    """trainer/data/BatchPlan.training."""
    rnd = JavaRandom((seed * 1_000_003 + epoch) & 0xFFFFFFFFFFFFFFFF)
    order = list(range(len(lengths)))
    rnd.shuffle(order)
    batches = []
    window = batch_size * window_batches
    for start in range(0, len(order), window):
        w = sorted(order[start:start + window], key=lambda i: lengths[i])  # stable, as List.sort
        batches += [w[i:i + batch_size] for i in range(0, len(w), batch_size)]
    rnd.shuffle(batches)
    return batches


def bert_from_onnx(model_dir, heads):
    m = onnx.load(f"{model_dir}/model.onnx")
    init = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    state = {k: v for k, v in init.items() if not k.startswith("onnx::") and k != "embeddings.position_ids"}
    for node in m.graph.node:
        if node.op_type == "MatMul" and node.input[1] in init:
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            state[module + ".weight"] = init[node.input[1]].t().contiguous()
    hidden = state["embeddings.word_embeddings.weight"].shape[1]
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    inter = state["encoder.layer.0.intermediate.dense.weight"].shape[0]
    config = BertConfig(vocab_size=state["embeddings.word_embeddings.weight"].shape[0], hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=inter,
                        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
                        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12)
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"base weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    return model


class Classifier(torch.nn.Module):
    """Masked mean pooling, dropout, one linear layer (trainer/head/ClassifierHead)."""

    def __init__(self, encoder, hidden, labels, dropout):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, labels)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, ids, mask):
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        m = mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1)
        return self.head(self.dropout(pooled))


def pad(rows, ids):
    seq = max(len(ids[r]) for r in rows)
    x = torch.zeros(len(rows), seq, dtype=torch.long)
    mask = torch.zeros(len(rows), seq, dtype=torch.long)
    for i, r in enumerate(rows):
        x[i, :len(ids[r])] = torch.tensor(ids[r])
        mask[i, :len(ids[r])] = 1
    return x, mask


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base-dir", required=True, help="directory with model.onnx and tokenizer.json")
    p.add_argument("--train", required=True)
    p.add_argument("--dev", required=True)
    p.add_argument("--max-train", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heads", type=int, default=12, help="attention heads of the base (MiniLM-L6: 12)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    train = read_tsv(a.train)
    dev = read_tsv(a.dev)
    if 0 < a.max_train < len(train):  # Trainer.subset
        JavaRandom(a.seed).shuffle(train)
        train = train[:a.max_train]
    labels = sorted({l for _, l in train}, key=lambda s: (0, int(s)) if s.lstrip("-").isdigit() else (1, s))
    tok = Tokenizer.from_file(f"{a.base_dir}/tokenizer.json")
    tok.enable_truncation(a.max_length)
    tok.no_padding()
    encode = lambda rows: [e.ids for e in tok.encode_batch([t for t, _ in rows])]
    train_ids, dev_ids = encode(train), encode(dev)
    train_y = torch.tensor([labels.index(l) for _, l in train])
    dev_y = torch.tensor([labels.index(l) for _, l in dev])

    base = bert_from_onnx(a.base_dir, a.heads)
    lora = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.1, target_modules=["query", "value"])
    model = Classifier(get_peft_model(base, lora), base.config.hidden_size, len(labels), 0.1)
    decay = [q for n, q in model.named_parameters() if q.requires_grad and not n.endswith("head.bias")]
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": [model.head.bias], "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.999),
                            eps=1e-8)
    lengths = [len(x) for x in train_ids]
    steps_per_epoch = len(batch_plan(lengths, a.batch_size, a.seed, 0))
    total = steps_per_epoch * a.epochs
    warmup = -(-total * 6 // 100)  # ceil(total * 0.06), LearningRateSchedule
    factor = lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)

    step, tokens, seconds, losses = 0, 0, 0.0, []
    model.train()
    for epoch in range(a.epochs):
        for rows in batch_plan(lengths, a.batch_size, a.seed, epoch):
            x, mask = pad(rows, train_ids)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                logits = model(x, mask)
            loss = torch.nn.functional.cross_entropy(logits.float(), train_y[rows])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            seconds += time.perf_counter() - t0
            tokens += int(mask.sum())
            losses.append(loss.item())
            step += 1

    model.eval()
    correct, dev_tokens = 0, 0
    order = sorted(range(len(dev_ids)), key=lambda i: len(dev_ids[i]))
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(order), 32):
            rows = order[i:i + 32]
            x, mask = pad(rows, dev_ids)
            correct += int((model(x, mask).argmax(-1) == dev_y[rows]).sum())
            dev_tokens += int(mask.sum())
    infer = time.perf_counter() - t0
    # one sentence a call, as a request at a time is served (same order)
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in order:
            x, mask = pad([i], dev_ids)
            model(x, mask)
    infer1 = time.perf_counter() - t0
    print(json.dumps({"peer": "peft", "precision": a.precision, "torch": torch.__version__, "steps": step,
                      "train_tokens": tokens, "train_seconds": round(seconds, 3),
                      "train_tokens_per_second": round(tokens / seconds, 1), "final_loss": losses[-1],
                      "dev_accuracy": correct / len(dev_ids), "dev_examples": len(dev_ids),
                      "infer_seconds": round(infer, 3), "infer_tokens_per_second": round(dev_tokens / infer, 1),
                      "infer1_seconds": round(infer1, 3)}))


if __name__ == "__main__":
    main()
