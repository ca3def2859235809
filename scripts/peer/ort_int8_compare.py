"""Peer check for `export --quantize int8` (issue 16 item 3): lora4j's int8 merged graph against ONNX
Runtime's own `quantize_dynamic` (per-channel int8 weights) of the same float32 merged graph, in one
Python ONNX Runtime, interleaved rounds, 2 intra-op threads, random 24-token inputs.

  ./lora4j export --adapter <run dir> --name sst2-lora --format merged --quantize int8 --out <dir>
  python3 scripts/peer/ort_int8_compare.py <dir>/sst2-lora.merged.onnx <dir>/sst2-lora.merged.int8.onnx

Prints the optimised graphs' node counts and each int8 graph's throughput ratio to float32 at batch 1
and 32. Peer measurement only; lora4j does not depend on Python.
"""
import collections
import statistics
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

src, ours = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp()
theirs = work + "/ort-quantize-dynamic.onnx"
quantize_dynamic(src, theirs, per_channel=True, weight_type=QuantType.QInt8)
sessions = {}
for name, path in (("fp32", src), ("lora4j int8", ours), ("ORT quantize_dynamic", theirs)):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    o.optimized_model_filepath = "%s/opt-%d.onnx" % (work, len(sessions))
    sessions[name] = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    g = onnx.load(o.optimized_model_filepath, load_external_data=False).graph
    ops = collections.Counter(n.op_type for n in g.node)
    print("%-22s %d nodes after optimisation: %s" % (name, len(g.node),
          ", ".join("%s %d" % kv for kv in sorted(ops.items()) if "Quant" in kv[0] or "MatMul" in kv[0])))
inputs = [i.name for i in sessions["fp32"].get_inputs()]


def feed(batch, tokens=24):
    ids = np.random.RandomState(0).randint(1000, 20000, size=(batch, tokens)).astype(np.int64)
    x = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    return {k: x[k] for k in inputs}


for batch, runs in ((1, 200), (32, 20)):
    x = feed(batch)
    for s in sessions.values():
        s.run(None, x)
    ratios = collections.defaultdict(list)
    for _ in range(4):
        seconds = {}
        for name, s in sessions.items():
            t0 = time.perf_counter()
            for _ in range(runs):
                s.run(None, x)
            seconds[name] = (time.perf_counter() - t0) / runs
        for name in seconds:
            ratios[name].append(seconds["fp32"] / seconds[name])
    print("batch %d: " % batch + "; ".join("%s %.2fx (rounds %s)" % (k, statistics.median(v), " ".join("%.2f" % r for r in v))
                                          for k, v in ratios.items() if k != "fp32"))
