"""Regenerates the PEFT fixtures next to this file with Hugging Face PEFT itself.

Run with torch, transformers, peft and safetensors installed (made with torch 2.13 CPU,
transformers 5.18, peft 0.21, safetensors 0.8):  python make_fixtures.py

Each fixture directory is exactly what PeftModel.save_pretrained wrote, plus expected_deltas.safetensors:
every adapted module's delta W (out x in, float32) under its canonical lora4j name, as PEFT computes it.
"""
import os
import shutil

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
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
