"""Regenerates the PEFT fixtures next to this file with Hugging Face PEFT itself.

Run with torch, transformers, peft and safetensors installed (made with torch 2.13 CPU,
transformers 5.18, peft 0.21, safetensors 0.8):  python make_fixtures.py

Each fixture directory is exactly what PeftModel.save_pretrained wrote, plus expected_deltas.safetensors:
every adapted module's delta W (out x in, float32) under its canonical lora4j name, as PEFT computes it.
bert-adalora/ is an AdaLoRA adapter after rank allocation (PEFT's own get_delta_weight after reloading it);
regenerate only that one with:  python make_fixtures.py --adalora-only
bert-dora/ is a DoRA adapter (use_dora) on tiny-base.safetensors with merged_weights.safetensors: PEFT's own
merge_and_unload() weights of the adapted modules; regenerate only that one with:  python make_fixtures.py --dora-only
(PEFT's generic rank_pattern check warns on reloading that the AdaLoRA mask keys "did not match any targeted
module"; AdaLoRA's own resize does apply them, as the reloaded shapes show.)

It also records what PEFT makes of what lora4j writes (PeftLoadsWhatLora4jWritesTest asserts on it):
  lora_config_fields.json         the keys PEFT's LoraConfig knows (adapter_config.json must hold no other)
  lora4j-written/                 an adapter lora4j's PeftWriter wrote (the Java test checks it is byte for
                                  byte today's output; regenerate it first with that test's -D property)
  lora4j-written.peft-load.json   what PeftModel.from_pretrained saw loading it onto a BertModel: warnings
                                  (must be none), LoRA tensors loaded, config, and the documented head loader
  lora4j-written/expected_deltas.safetensors   PEFT's delta W of each module it loaded
  lora4j-written-fp16/ (+ .peft-load.json)     the same adapter written with --adapter-dtype fp16 (F16 factors)

combine/ holds two LoRA adapters PEFT saved (a: query, value, r 4, alpha 8; b: query, value, key, r 4, alpha 4)
and, per add_weighted_adapter call listed in combine/combinations.json, PEFT's delta W of the combined adapter in
combine/expected_<name>.safetensors (svd also records the singular values of the uncut weighted sum, so the Java
test can bound the truncation); regenerate only those with:  python make_fixtures.py --combine-only

Python is never part of the build; the outputs are committed. Rerunning everything re-draws the random
PEFT-written fixtures above; to refresh only the lora4j checks run:  python make_fixtures.py --lora4j-only
"""
import contextlib
import dataclasses
import io
import json
import logging
import os
import shutil
import sys
import warnings

import torch
import peft
from peft import AdaLoraConfig, LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForSequenceClassification, BertModel

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=16, max_position_embeddings=32)


def save(name, model, config, wrapper_prefix="", dtype=None):
    torch.manual_seed(7)
    model.name_or_path = "tiny-bert"
    model.config._name_or_path = "tiny-bert"
    peft_model = get_peft_model(model, config)
    if dtype is not None:
        peft_model = peft_model.to(dtype)
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    peft_model.save_pretrained(out)
    deltas = {}
    for module_name, module in peft_model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            a = module.lora_A["default"].weight.float()
            b = module.lora_B["default"].weight.float()
            deltas[module_name[len(wrapper_prefix):]] = (b @ a * module.scaling["default"]).contiguous()
    save_file(deltas, os.path.join(out, "expected_deltas.safetensors"))


# The documented way to use a lora4j classifier from PEFT (docs/EXPORT.md copies this function verbatim):
# PEFT puts the LoRA layers on a BertModel; the head and how to pool for it come from the weights file.
def load_lora4j_classifier(base_model, adapter_dir):
    model = PeftModel.from_pretrained(base_model, adapter_dir).eval()
    with safe_open(os.path.join(adapter_dir, "adapter_model.safetensors"), "pt") as f:
        head = json.loads(f.metadata()["lora4j"])["head"]
        weight = f.get_tensor("base_model.model.classifier.weight").float()
        bias = f.get_tensor("base_model.model.classifier.bias").float()

    def logits(input_ids, attention_mask):
        hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if head["pooling"] == "cls":
            pooled = hidden[:, 0]  # the [CLS] vector itself: lora4j has no pooler (dense + tanh)
        else:  # "mean": average over the tokens the attention mask keeps
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled @ weight.T + bias

    return model, logits, head


def lora_config_fields():
    fields = sorted(f.name for f in dataclasses.fields(LoraConfig))
    with open(os.path.join(HERE, "lora_config_fields.json"), "w") as out:
        json.dump({"peft_version": peft.__version__, "fields": fields}, out, indent=2)
        out.write("\n")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")


def tiny_base():
    """lora4j's TinyBert (seed 5) as a BertModel: the weights PeftLoadsWhatLora4jWritesTest wrote."""
    weights = load_file(os.path.join(HERE, "tiny-base.safetensors"))
    layers = 1 + max(int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer."))
    vocab, hidden = weights["embeddings.word_embeddings.weight"].shape
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=4,  # TinyBert.HEADS
                        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
                        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
                        type_vocab_size=weights["embeddings.token_type_embeddings.weight"].shape[0],
                        hidden_act="gelu", layer_norm_eps=1e-12)
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(weights, strict=True)
    return model


def check_lora4j_written(adapter_dir=os.path.join(HERE, "lora4j-written"), record=True,
                         report_file=os.path.join(HERE, "lora4j-written.peft-load.json")):
    """Loads lora4j-written/ as a PEFT user would and records what PEFT saw; fails on any warning."""
    weights_file = os.path.join(adapter_dir, "adapter_model.safetensors")
    base = tiny_base()
    collect = _Collect()
    loggers = [logging.getLogger(n) for n in ("peft", "transformers", "")]
    for lg in loggers:
        lg.addHandler(collect)
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        peft_model, logits_fn, head = load_lora4j_classifier(base, adapter_dir)
        # TinyBert's vocabulary: [CLS] 2, [SEP] 3, [PAD] 0; "this film is very good .", "awful", ...
        ids = torch.tensor([[2, 8, 13, 11, 20, 30, 60, 3], [2, 41, 3, 0, 0, 0, 0, 0], [2, 5, 16, 12, 22, 43, 3, 0]])
        mask = (ids != 0).long()
        with torch.no_grad():
            logits = logits_fn(ids, mask)
    for lg in loggers:
        lg.removeHandler(collect)
    seen_warnings = [f"{w.category.__name__}: {w.message}" for w in caught] + collect.records
    seen_warnings += [line for line in stderr.getvalue().splitlines() if line.strip()]

    stored = load_file(weights_file)
    loaded, unlike, deltas, dropout_p, file_dtypes = [], [], {}, None, set()
    for module_name, module in peft_model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            a = module.lora_A["default"].weight
            b = module.lora_B["default"].weight
            for part, tensor in (("lora_A", a), ("lora_B", b)):
                loaded.append(f"base_model.model.{module_name}.{part}.default.weight")
                # an F16 file (export --adapter-dtype fp16) loads into float32 LoRA layers: compare values
                file_dtypes.add(str(stored[f"base_model.model.{module_name}.{part}.weight"].dtype))
                if not torch.equal(tensor.detach(),
                                   stored[f"base_model.model.{module_name}.{part}.weight"].to(tensor.dtype)):
                    unlike.append(f"base_model.model.{module_name}.{part}.weight")
            deltas[module_name] = (b.float() @ a.float() * module.scaling["default"]).detach().contiguous()
            dropout_p = module.lora_dropout["default"].p
    if record:
        save_file(deltas, os.path.join(adapter_dir, "expected_deltas.safetensors"))

    config = peft_model.peft_config["default"]
    report = {
        "peft_version": peft.__version__,
        "warnings": seen_warnings,
        "loaded_lora_tensors": sorted(loaded),
        "lora_tensors_unlike_the_file": unlike,
        "file_lora_dtypes": sorted(file_dtypes),
        "config": {"lora_dropout": config.lora_dropout, "base_model_name_or_path": config.base_model_name_or_path,
                   "task_type": str(config.task_type), "r": config.r, "rank_pattern": config.rank_pattern},
        "dropout_module_p": dropout_p,
        "documented_loader": {"labels": head["labels"], "pooling": head["pooling"], "input_ids": ids.tolist(),
                              "logits": logits.tolist()},
    }
    if record:
        with open(report_file, "w") as out:
            json.dump(report, out, indent=2)
            out.write("\n")
    if seen_warnings:
        sys.exit(f"PEFT warned loading {adapter_dir}: " + "; ".join(seen_warnings))


def peft_written_fixtures():
    # BertForSequenceClassification without a task type: module names under "bert.", per-module ranks and
    # alphas through patterns (a short name, a partial name, a full name), rsLoRA scaling, float32.
    save("bert-wrapped-rslora",
         BertForSequenceClassification(TINY),
         LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value", "output.dense"], use_rslora=True,
                    rank_pattern={"value": 3, "bert.encoder.layer.1.attention.self.query": 2},
                    alpha_pattern={"layer.0.attention.self.query": 12, "output.dense": 5},
                    init_lora_weights=False),
         wrapper_prefix="bert.")

    # A bare BertModel adapter saved in bfloat16, defaults otherwise (scaling alpha / r).
    save("bert-bf16",
         BertModel(TINY, add_pooling_layer=False),
         LoraConfig(task_type="FEATURE_EXTRACTION", r=2, lora_alpha=6, target_modules=["key"], init_lora_weights=False),
         dtype=torch.bfloat16)

    # A sequence-classification adapter: PEFT adds the classifier to modules_to_save and saves its head.
    save("bert-seq-cls",
         BertForSequenceClassification(TINY),
         LoraConfig(task_type="SEQ_CLS", r=2, lora_alpha=4, target_modules=["query"], init_lora_weights=False),
         wrapper_prefix="bert.")


def adalora_fixture():
    """An AdaLoRA adapter after rank allocation, as PEFT saves it: lora_A / lora_B / lora_E per module,
    resized by rank_pattern (the config keeps the boolean masks), ranknum (= init_r) not saved.

    Random A, B, E stand in for training; some E entries are exactly zero (ranks the allocator pruned
    by value) and rank_pattern masks others out, so the reader must drop both. expected_deltas holds
    PEFT's own get_delta_weight after reloading the saved adapter with PeftModel.from_pretrained."""
    torch.manual_seed(11)
    name = "bert-adalora"
    base = BertModel(TINY, add_pooling_layer=False)
    base.name_or_path = "tiny-bert"
    base.config._name_or_path = "tiny-bert"
    config = AdaLoraConfig(init_r=4, target_r=2, lora_alpha=6, total_step=100, tinit=10, tfinal=20,
                           target_modules=["query", "value"], init_lora_weights=False)
    model = get_peft_model(base, config)
    masks = {}
    for module_name, module in model.base_model.model.named_modules():
        if hasattr(module, "lora_E") and "default" in module.lora_E:
            with torch.no_grad():
                module.lora_A["default"].normal_()
                module.lora_B["default"].normal_()
                module.lora_E["default"].normal_()
            layer = int(module_name.split(".")[2])
            if module_name.endswith("query"):
                module.lora_E["default"].data[1 + layer] = 0.0  # pruned by value, still stored
            # the allocator's mask: layer 0 value keeps 2 ranks, layer 1 value keeps 3, queries keep all
            mask = [True] * 4
            if module_name.endswith("value"):
                mask = [True, False, True, False] if layer == 0 else [False, True, True, True]
            masks[f"{module_name}.lora_E.default"] = mask
    model.peft_config["default"].rank_pattern = masks
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    os.remove(os.path.join(out, "README.md"))  # PEFT's model-card template; the other fixtures have none

    # delta W does not depend on the base weights, so a fresh base serves
    reloaded = PeftModel.from_pretrained(BertModel(TINY, add_pooling_layer=False), out)
    deltas = {}
    for module_name, module in reloaded.base_model.model.named_modules():
        if hasattr(module, "lora_E") and "default" in module.lora_E:
            deltas[module_name] = module.get_delta_weight("default").detach().float().contiguous()
    save_file(deltas, os.path.join(out, "expected_deltas.safetensors"))


# add_weighted_adapter calls whose results the Java combination must reproduce: name -> keyword arguments
COMBINATIONS = {
    "linear": dict(weights=[0.7, 0.5], combination_type="linear"),
    "cat": dict(weights=[0.7, -0.3], combination_type="cat"),
    "svd": dict(weights=[0.6, 0.4], combination_type="svd", svd_rank=3),
    "ties": dict(weights=[0.7, -0.5], combination_type="ties", density=0.5),
}


def combine_fixtures():
    """Two adapters on one tiny BertModel combined by PEFT's add_weighted_adapter. Different alphas, so that
    the scaling enters the weights as PEFT folds it; "key" only in b, so PEFT's handling of a module some
    inputs lack is pinned. Each expected file holds get_delta_weight of the combined adapter per module."""
    out = os.path.join(HERE, "combine")
    shutil.rmtree(out, ignore_errors=True)
    inputs = {"a": (LoraConfig(task_type="FEATURE_EXTRACTION", r=4, lora_alpha=8, target_modules=["query", "value"],
                               init_lora_weights=False), 21),
              "b": (LoraConfig(task_type="FEATURE_EXTRACTION", r=4, lora_alpha=4,
                               target_modules=["query", "value", "key"], init_lora_weights=False), 22)}
    for name, (config, seed) in inputs.items():
        torch.manual_seed(seed)
        base = BertModel(TINY, add_pooling_layer=False)
        base.name_or_path = "tiny-bert"
        base.config._name_or_path = "tiny-bert"
        model = get_peft_model(base, config)
        model.save_pretrained(os.path.join(out, name))
        readme = os.path.join(out, name, "README.md")
        if os.path.exists(readme):
            os.remove(readme)

    # delta W does not depend on the base weights, so a fresh base serves
    torch.manual_seed(0)
    model = PeftModel.from_pretrained(BertModel(TINY, add_pooling_layer=False), os.path.join(out, "a"), adapter_name="a")
    model.load_adapter(os.path.join(out, "b"), adapter_name="b")
    record = {"peft_version": peft.__version__, "adapters": ["a", "b"], "combinations": {}}
    for name, kwargs in COMBINATIONS.items():
        model.add_weighted_adapter(["a", "b"], adapter_name=name, **kwargs)
        deltas, singular = {}, {}
        for module_name, module in model.base_model.model.named_modules():
            if hasattr(module, "lora_A") and name in module.lora_A:
                deltas[module_name] = module.get_delta_weight(name).detach().float().contiguous()
                if kwargs["combination_type"] == "svd":
                    full = sum(w * module.get_delta_weight(a) for a, w in zip(["a", "b"], kwargs["weights"])
                               if a in module.lora_A)
                    singular[module_name] = torch.linalg.svdvals(full.double()).tolist()
        save_file(deltas, os.path.join(out, f"expected_{name}.safetensors"))
        entry = {k: v for k, v in kwargs.items()}
        entry["rank"] = model.peft_config[name].r
        if singular:
            entry["singular_values"] = singular
        record["combinations"][name] = entry
    with open(os.path.join(out, "combinations.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")



def dora_fixture():
    """A DoRA adapter (use_dora=True) on lora4j's TinyBert (tiny-base.safetensors, the base the Java
    tests build), as PEFT saves it: lora_A / lora_B weights plus lora_magnitude_vector per module.

    Random A, B (init_lora_weights=False) stand in for training, and the magnitudes are pushed away
    from PEFT's initial ||W + s·B·A|| row norms, so that DoRA differs clearly from plain LoRA. Modules:
    a square one (layer 0 query) and a non-square one (layer 1 intermediate.dense, 64 x 32), so a norm
    taken over the wrong axis cannot pass. merged_weights.safetensors holds, per adapted module under
    its canonical lora4j name, PEFT's merged weight W' (out x in, float32) from merge_and_unload() of
    the reloaded adapter."""
    torch.manual_seed(13)
    name = "bert-dora"
    base = tiny_base()
    base.name_or_path = "tiny-bert"
    base.config._name_or_path = "tiny-bert"
    config = LoraConfig(task_type="FEATURE_EXTRACTION", r=2, lora_alpha=3, use_dora=True,
                        target_modules=["encoder.layer.0.attention.self.query", "encoder.layer.1.intermediate.dense"],
                        init_lora_weights=False)
    model = get_peft_model(base, config)
    for module_name, module in model.base_model.model.named_modules():
        if hasattr(module, "lora_magnitude_vector") and "default" in module.lora_magnitude_vector:
            with torch.no_grad():
                m = module.lora_magnitude_vector["default"].weight
                m.mul_(1 + 0.3 * torch.randn_like(m))
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    readme = os.path.join(out, "README.md")  # PEFT's model-card template; the other fixtures have none
    if os.path.exists(readme):
        os.remove(readme)

    reloaded = PeftModel.from_pretrained(tiny_base(), out)
    targets = [n for n, mod in reloaded.base_model.model.named_modules()
               if hasattr(mod, "lora_magnitude_vector") and "default" in mod.lora_magnitude_vector]
    merged = reloaded.merge_and_unload().state_dict()
    save_file({t: merged[t + ".weight"].detach().float().contiguous() for t in targets},
              os.path.join(out, "merged_weights.safetensors"))



if __name__ == "__main__":
    if "--combine-only" in sys.argv[1:]:
        combine_fixtures()
        sys.exit(0)
    if "--dora-only" in sys.argv[1:]:
        dora_fixture()
        sys.exit(0)
    if "--adalora-only" in sys.argv[1:]:
        adalora_fixture()
        sys.exit(0)
    if "--lora4j-only" not in sys.argv[1:]:
        peft_written_fixtures()
        adalora_fixture()
        combine_fixtures()
        dora_fixture()
    lora_config_fields()
    check_lora4j_written()
    check_lora4j_written(os.path.join(HERE, "lora4j-written-fp16"),
                         report_file=os.path.join(HERE, "lora4j-written-fp16.peft-load.json"))
