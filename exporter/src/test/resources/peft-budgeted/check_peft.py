"""Loads adapter/ (a budgeted adapter's PEFT output, written by PeftLoadsABudgetedAdapterTest) with
Hugging Face PEFT onto lora4j's TinyBert (seed 5) and records what PEFT built: the rank of each
module (from r and rank_pattern), every warning, and each module's delta W.

Run by hand after regenerating adapter/ (python3 check_peft.py); Python is never part of the build.
Needs torch, transformers, peft 0.21 and safetensors; reuses models' make_fixtures.py helpers.
"""
import contextlib
import io
import json
import logging
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "..", "models", "src", "test", "resources", "peft"))

import peft  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from make_fixtures import _Collect, tiny_base  # noqa: E402


def main():
    adapter = os.path.join(HERE, "adapter")
    base = tiny_base()
    collect = _Collect()
    loggers = [logging.getLogger(n) for n in ("peft", "transformers", "")]
    for lg in loggers:
        lg.addHandler(collect)
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base, adapter).eval()
    for lg in loggers:
        lg.removeHandler(collect)
    seen = [f"{w.category.__name__}: {w.message}" for w in caught] + collect.records
    seen += [line for line in stderr.getvalue().splitlines() if line.strip()]
    ranks, deltas = {}, {}
    for name, module in model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            a = module.lora_A["default"].weight
            b = module.lora_B["default"].weight
            ranks[name] = a.shape[0]
            deltas[name] = (b.float() @ a.float() * module.scaling["default"]).detach().contiguous()
    save_file(deltas, os.path.join(adapter, "expected_deltas.safetensors"))
    config = model.peft_config["default"]
    report = {"peft_version": peft.__version__, "warnings": seen, "r": config.r,
              "rank_pattern": config.rank_pattern, "ranks": ranks}
    with open(os.path.join(HERE, "peft-load.json"), "w") as out:
        json.dump(report, out, indent=2)
        out.write("\n")
    if seen:
        sys.exit("PEFT warned: " + "; ".join(seen))


if __name__ == "__main__":
    main()
