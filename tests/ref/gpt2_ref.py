#!/usr/bin/python3
"""PyTorch reference for chirp's GPT-2 training numerics.

Writes small fixtures that tests/test_ref.c compares against without torch:

  tests/fixtures/ref_tiny/model/        config.json + model.safetensors (HF names,
                                        Conv1D [in, out]); random init, seed 1
  tests/fixtures/ref_tiny/tokens.bin    llm.c shard of random tokens
  tests/fixtures/ref_tiny/expected.safetensors
      logits [B,T,V] and loss [1] for the first batch,
      grad.<hf name> for every parameter (same batch),
      losses [10], norms [10]: 10 AdamW steps (lr 1e-2, betas 0.9/0.95,
      eps 1e-8, wd 0.1 on rank>=2 tensors, clip 1.0), sequential batches.

The model is written here from the GPT-2 paper / HF GPT2LMHeadModel
semantics (pre-LN, tanh GELU, tied head), independently of chirp's C code.
Run with Debian's python3-torch:  /usr/bin/python3 tests/ref/gpt2_ref.py
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

L, H, C, V, CTX = 2, 2, 16, 37, 16
B, T = 2, 8
STEPS = 10
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "ref_tiny")


def names():
    out = [("wte.weight", (V, C)), ("wpe.weight", (CTX, C))]
    for i in range(L):
        p = f"h.{i}."
        out += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
                (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
                (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
                (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
                (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
                (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    return out + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]


def init(seed):
    g = torch.Generator().manual_seed(seed)
    ps = {}
    for n, shp in names():
        if n.endswith("ln_1.weight") or n.endswith("ln_2.weight") or n == "ln_f.weight":
            t = torch.ones(shp)
        elif len(shp) == 1:
            t = torch.randn(shp, generator=g) * 0.02  # nonzero biases exercise their gradients
        else:
            std = 0.02 / math.sqrt(2 * L) if n.endswith("c_proj.weight") else 0.02
            t = torch.randn(shp, generator=g) * std
        ps[n] = t.float().requires_grad_(True)
    return ps


def forward(ps, idx, targets):
    b, t = idx.shape
    x = ps["wte.weight"][idx] + ps["wpe.weight"][torch.arange(t)]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    hs = C // H
    for i in range(L):
        p = f"h.{i}."
        h = F.layer_norm(x, (C,), ps[p + "ln_1.weight"], ps[p + "ln_1.bias"], 1e-5)
        qkv = torch.addmm(ps[p + "attn.c_attn.bias"], h.view(-1, C), ps[p + "attn.c_attn.weight"]).view(b, t, 3 * C)
        q, k, v = qkv.split(C, dim=2)
        q = q.view(b, t, H, hs).transpose(1, 2)
        k = k.view(b, t, H, hs).transpose(1, 2)
        v = v.view(b, t, H, hs).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) / (float(hs) ** 0.5)
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        att = F.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).contiguous().view(b * t, C)
        x = x + torch.addmm(ps[p + "attn.c_proj.bias"], y, ps[p + "attn.c_proj.weight"]).view(b, t, C)
        h = F.layer_norm(x, (C,), ps[p + "ln_2.weight"], ps[p + "ln_2.bias"], 1e-5)
        f = torch.addmm(ps[p + "mlp.c_fc.bias"], h.view(-1, C), ps[p + "mlp.c_fc.weight"])
        f = 0.5 * f * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (f + 0.044715 * torch.pow(f, 3.0))))
        x = x + torch.addmm(ps[p + "mlp.c_proj.bias"], f, ps[p + "mlp.c_proj.weight"]).view(b, t, C)
    x = F.layer_norm(x, (C,), ps["ln_f.weight"], ps["ln_f.bias"], 1e-5)
    logits = x @ ps["wte.weight"].t()
    loss = F.cross_entropy(logits.view(-1, V), targets.reshape(-1))
    return logits, loss


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    off, blobs = 0, []
    for n, t in tensors:
        a = np.ascontiguousarray(t.detach().numpy().astype("<f4"))
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    torch.set_num_threads(1)
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    ps = init(1)
    write_safetensors(os.path.join(OUT, "model", "model.safetensors"), [(n, ps[n]) for n, _ in names()])
    cfg = {"model_type": "gpt2", "n_layer": L, "n_head": H, "n_embd": C, "n_positions": CTX, "n_ctx": CTX,
           "vocab_size": V, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
           "tie_word_embeddings": True}
    with open(os.path.join(OUT, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    g = torch.Generator().manual_seed(2)
    n_tok = 400
    toks = torch.randint(0, V, (n_tok,), generator=g).numpy().astype("<u2")
    with open(os.path.join(OUT, "tokens.bin"), "wb") as f:
        f.write(np.array([20240520, 1, n_tok] + [0] * 253, dtype="<i4").tobytes() + toks.tobytes())
    toks = torch.from_numpy(toks.astype(np.int64))

    def batch(cur):
        buf = toks[cur:cur + B * T + 1]
        return buf[:-1].view(B, T), buf[1:].view(B, T)

    x, y = batch(0)
    logits, loss = forward(ps, x, y)
    loss.backward()
    out = [("logits", logits), ("loss", loss.reshape(1))]
    out += [("grad." + n, ps[n].grad) for n, _ in names()]

    ps = init(1)
    params = [ps[n] for n, _ in names()]
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    losses, norms, cur = [], [], 0
    for _ in range(STEPS):
        if cur + B * T + 1 > n_tok:
            cur = 0
        x, y = batch(cur)
        cur += B * T
        opt.zero_grad(set_to_none=True)
        _, loss = forward(ps, x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
    out += [("losses", torch.tensor(losses)), ("norms", torch.tensor(norms))]
    write_safetensors(os.path.join(OUT, "expected.safetensors"), out)
    print("torch", torch.__version__, "losses", losses, file=sys.stderr)


if __name__ == "__main__":
    main()
