#!/usr/bin/python3
"""infer_ref.py: PyTorch reference for chirp's inference forward pass.

Writes tests/fixtures/infer_<model>.txt: the logits of a fixed prompt at a few
positions and the greedy continuation, computed by a plain PyTorch GPT-2
(Hugging Face GPT2LMHeadModel math: pre-LayerNorm, causal attention scaled by
1/sqrt(head size), GELU tanh, LM head tied to wte), recomputing the whole
sequence for every new token (no cache), in float32.

Usage: /usr/bin/python3 tests/ref/infer_ref.py DATA_DIR MODEL_NAME OUT_FILE
  e.g. tests/ref/infer_ref.py ../shared/data tiny-after20-f32 tests/fixtures/infer_tiny-after20-f32.txt
Needs python3-torch (1.13 is what generated the committed fixtures).
"""
import json, math, struct, sys
import torch
import torch.nn.functional as F

PROMPT = [7, 300, 12, 511, 0, 64, 255, 256, 1, 99, 420, 17, 3, 3, 200, 42]
NEW_TOKENS = 40
LOGIT_POSITIONS = [0, 7, 15]


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8:8 + hl])
    base = 8 + hl
    out = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", name
        b, e = t["data_offsets"]
        arr = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=torch.float32)
        out[name.removeprefix("transformer.")] = arr.reshape(t["shape"])
    return out


def forward(w, cfg, ids):
    T = len(ids)
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    hs = C // H
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        p = f"h.{l}."
        h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=1)
        q = q.view(T, H, hs).transpose(0, 1)
        k = k.view(T, H, hs).transpose(0, 1)
        v = v.view(T, H, hs).transpose(0, 1)
        att = (q @ k.transpose(1, 2)) / math.sqrt(hs)
        att = att.masked_fill(~mask, torch.finfo(torch.float32).min)
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        h = F.gelu(h, approximate="tanh")
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].T


def main():
    data_dir, model, out = sys.argv[1:4]
    mdir = f"{data_dir}/gpt2-train-ref/{model}"
    cfg = json.load(open(f"{mdir}/config.json"))
    w = load_safetensors(f"{mdir}/model.safetensors")
    torch.set_grad_enabled(False)
    logits = forward(w, cfg, PROMPT)
    ids = list(PROMPT)
    min_margin = float("inf")
    for _ in range(NEW_TOKENS):
        last = forward(w, cfg, ids)[-1]
        top2 = torch.topk(last, 2).values
        min_margin = min(min_margin, float(top2[0] - top2[1]))
        ids.append(int(torch.argmax(last)))
    with open(out, "w") as f:
        f.write(f"# tests/ref/infer_ref.py {model} (torch {torch.__version__}, float32)\n")
        f.write(f"# smallest top-1/top-2 logit gap along the greedy path: {min_margin:.3g}\n")
        f.write("prompt " + " ".join(map(str, PROMPT)) + "\n")
        for t in LOGIT_POSITIONS:
            f.write(f"logits {t} " + " ".join(f"{v:.7g}" for v in logits[t].tolist()) + "\n")
        f.write("greedy " + " ".join(map(str, ids[len(PROMPT):])) + "\n")
    print(f"{out}: min greedy margin {min_margin:.3g}")


if __name__ == "__main__":
    main()
