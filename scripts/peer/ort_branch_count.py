"""Experiment for issue 16 item 3 (export --adapter-modules): the int8 and float32 multi-adapter graphs with
low-rank branches on all 36 modules against the same graphs cut down to the 12 a query,value adapter uses,
and the int8 merged graph, in one Python ONNX Runtime (2 intra-op threads, batch 1, 24 random tokens,
interleaved rounds). Also prints each optimised graph's node counts (fusions) and checks that 36 and 12
branches answer identically for a q/v adapter.

  ./lora4j export --adapter <q,v adapter> --name sst2 --format merged,multi --quantize int8 --adapter-modules all --out <dir>
  python3 scripts/peer/ort_branch_count.py <dir> <dir>/sst2.merged.int8.onnx [time]

Peer measurement only; lora4j does not depend on Python.
"""
import collections, statistics, sys, time, os
import numpy as np, onnx, onnxruntime as ort
from onnx import helper

src_dir = sys.argv[1]   # export dir with base.multi.onnx, base.multi.int8.onnx, <a>.merged.int8.onnx
merged = sys.argv[2]
keep = ("self.query", "self.value")
import tempfile
out = tempfile.mkdtemp()

def subset(path, dst):
    m = onnx.load(path)
    g = m.graph
    drop_mods = set()
    for i in g.input:
        if i.name.endswith(".lora_A") and not any(k in i.name for k in keep):
            drop_mods.add(i.name[:-len(".lora_A")])
    rename = {}
    nodes = []
    for n in g.node:
        mod = n.name.split("/")[2] if n.name.startswith("/lora4j/") else None
        if mod in drop_mods:
            if n.op_type == "Add":
                rename[n.output[0]] = n.input[0]
            continue
        nodes.append(n)
    for n in nodes:
        for j, x in enumerate(n.input):
            if x in rename: n.input[j] = rename[x]
    for o in g.output:
        if o.name in rename: raise SystemExit("output renamed")
    del g.node[:]; g.node.extend(nodes)
    keep_in = [i for i in g.input if not any(i.name == d + s for d in drop_mods for s in (".lora_A", ".lora_B"))]
    del g.input[:]; g.input.extend(keep_in)
    inits = [i for i in g.initializer if not any(i.name == d + s for d in drop_mods for s in (".lora_A", ".lora_B"))]
    del g.initializer[:]; g.initializer.extend(inits)
    onnx.save(m, dst)
    return len(drop_mods)

variants = {}
variants["fp32-36"] = src_dir + "/base.multi.onnx"
variants["int8-36"] = src_dir + "/base.multi.int8.onnx"
for k in ("fp32", "int8"):
    p = out + "/%s-12.onnx" % k
    if not os.path.exists(p):
        print("dropped", subset(variants[k + "-36"], p))
    variants[k + "-12"] = p
variants["int8-merged"] = merged

sessions = {}
for name, path in variants.items():
    o = ort.SessionOptions(); o.intra_op_num_threads = 2
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.optimized_model_filepath = "%s/opt-%s.onnx" % (out, name)
    sessions[name] = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    g = onnx.load(o.optimized_model_filepath, load_external_data=False).graph
    ops = collections.Counter(n.op_type for n in g.node)
    print("%-12s %4d nodes: %s" % (name, len(g.node), ", ".join("%s %d" % kv for kv in sorted(ops.items()))))

rng = np.random.RandomState(1)
def feed(sess, batch, tokens=24):
    ids = rng.randint(1000, 20000, size=(batch, tokens)).astype(np.int64)
    x = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    for i in sess.get_inputs():
        n = i.name
        if n.endswith(".lora_A") and any(k in n for k in keep):
            x[n] = (rng.randn(384, 8) * 0.02).astype(np.float32)
        elif n.endswith(".lora_B") and any(k in n for k in keep):
            x[n] = (rng.randn(8, 384) * 0.02).astype(np.float32)
        elif n == "head.weight": x[n] = (rng.randn(384, 2) * 0.1).astype(np.float32)
        elif n == "head.bias": x[n] = np.zeros(2, np.float32)
    return {k: v for k, v in x.items() if k in {i.name for i in sess.get_inputs()}}

# exactness of the subset graph vs the full one (same feeds)
for k in ("fp32", "int8"):
    f = feed(sessions[k + "-36"], 2)
    a = sessions[k + "-36"].run(["last_hidden_state"], f)[0]
    b = sessions[k + "-12"].run(["last_hidden_state"], {n: v for n, v in f.items() if n in {i.name for i in sessions[k + "-12"].get_inputs()}})[0]
    print(k, "36 vs 12 max abs diff", float(np.abs(a - b).max()))

if len(sys.argv) > 3 and sys.argv[3] == "time":
    print("load before", open("/proc/loadavg").read().strip())
    for batch, runs, rounds in ((1, 150, 5),):
        feeds = {n: feed(s, batch) for n, s in sessions.items()}
        for n, s in sessions.items(): s.run(None, feeds[n])
        per = collections.defaultdict(list)
        for r in range(rounds):
            for n, s in sessions.items():
                t0 = time.perf_counter()
                for _ in range(runs): s.run(None, feeds[n])
                per[n].append((time.perf_counter() - t0) / runs)
        for n in per:
            print("batch %d %-12s median %.2f ms" % (batch, n, 1e3 * statistics.median(per[n])))
        def ratio(a, b): return [x / y for x, y in zip(per[a], per[b])]
        for a, b in (("fp32-36", "int8-36"), ("fp32-12", "int8-12"), ("fp32-36", "int8-12"), ("int8-36", "int8-12"), ("fp32-36", "int8-merged"), ("fp32-12", "fp32-36")):
            r = ratio(a, b)
            print("  %s / %s time = %.2fx (rounds %s)" % (a, b, statistics.median(r), " ".join("%.2f" % x for x in r)))
    print("load after", open("/proc/loadavg").read().strip())
