#!/usr/bin/python3
"""PyTorch peer for bench/bf16_curve: trains a Hugging Face GPT-2 directory
on an llm.c token shard the way `chirp train` does (sequential B x T
windows, AdamW with weight decay on rank >= 2 tensors, global-norm clip,
constant learning rate), in fp32 or under torch.autocast("cpu",
torch.bfloat16), and prints "step K loss X" per step and "val loss X" at
the end.

    bench/train_curve_torch.py MODEL_DIR TRAIN.bin VAL.bin B T STEPS LR MODE [VAL_BATCHES]

MODE is fp32, bf16 (torch.autocast), or bf16-fp32acc: every matrix product
takes its operands (and, backward, the incoming gradient) rounded to bf16
and multiplies them in fp32, outputs fp32. That is what a bf16 matrix unit
computes (AMX and AVX512_BF16 accumulate in fp32), and what autocast
computes on a CPU that has one, apart from autocast rounding the outputs
too. On a CPU without one, PyTorch 1.13's bf16 matmul loses far more than
bf16 rounding (bench/bf16_curve measures it), so autocast there is not
bf16 mixed precision as the hardware defines it.

Written from the GPT-2 definition (pre-LN, tanh GELU, tied head), not from
chirp's C code; reads safetensors by hand (Debian has no safetensors
package).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {t['dtype']}; this script reads F32")
        a, b = t["data_offsets"]
        out[name.removeprefix("transformer.")] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"]).copy())
    return out


def read_tokens(path):
    with open(path, "rb") as f:
        hdr = np.frombuffer(f.read(1024), dtype="<i4")
        width = 2 if hdr[0] == 20240520 else 4
        toks = np.frombuffer(f.read(int(hdr[2]) * width), dtype="<u2" if width == 2 else "<u4")
    return torch.from_numpy(toks.astype(np.int64))


class Bf16Product(torch.autograd.Function):
    """a @ b with both operands rounded to bf16, multiplied in fp32; the
    backward rounds the incoming gradient the same way."""

    @staticmethod
    def forward(ctx, a, b):
        a16, b16 = a.bfloat16().float(), b.bfloat16().float()
        ctx.save_for_backward(a16, b16)
        return a16 @ b16

    @staticmethod
    def backward(ctx, g):
        a16, b16 = ctx.saved_tensors
        g16 = g.bfloat16().float()
        return g16 @ b16.transpose(-1, -2), a16.transpose(-1, -2) @ g16


MM = torch.matmul


def forward(ps, cfg, idx, targets):
    L, H, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    b, t = idx.shape
    hs = C // H
    x = ps["wte.weight"][idx] + ps["wpe.weight"][torch.arange(t)]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(L):
        p = f"h.{i}."
        h = F.layer_norm(x, (C,), ps[p + "ln_1.weight"], ps[p + "ln_1.bias"], 1e-5)
        qkv = (MM(h.view(-1, C), ps[p + "attn.c_attn.weight"]) + ps[p + "attn.c_attn.bias"]).view(b, t, 3 * C)
        q, k, v = qkv.split(C, dim=2)
        q = q.view(b, t, H, hs).transpose(1, 2)
        k = k.view(b, t, H, hs).transpose(1, 2)
        v = v.view(b, t, H, hs).transpose(1, 2)
        att = MM(q, k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = MM(att, v).transpose(1, 2).contiguous().view(b * t, C)
        x = x + (MM(y, ps[p + "attn.c_proj.weight"]) + ps[p + "attn.c_proj.bias"]).view(b, t, C)
        h = F.layer_norm(x, (C,), ps[p + "ln_2.weight"], ps[p + "ln_2.bias"], 1e-5)
        f = MM(h.view(-1, C), ps[p + "mlp.c_fc.weight"]) + ps[p + "mlp.c_fc.bias"]
        f = F.gelu(f, approximate="tanh")
        x = x + (MM(f, ps[p + "mlp.c_proj.weight"]) + ps[p + "mlp.c_proj.bias"]).view(b, t, C)
    x = F.layer_norm(x, (C,), ps["ln_f.weight"], ps["ln_f.bias"], 1e-5)
    logits = MM(x.view(b * t, C), ps["wte.weight"].t())
    return F.cross_entropy(logits.float(), targets.reshape(-1))


def main():
    if len(sys.argv) not in (9, 10):
        raise SystemExit(__doc__)
    model, train_path, val_path = sys.argv[1:4]
    B, T, steps = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    lr, prec = float(sys.argv[7]), sys.argv[8]
    if prec not in ("fp32", "bf16", "bf16-fp32acc"):
        raise SystemExit(__doc__)
    if prec == "bf16-fp32acc":
        global MM
        MM = Bf16Product.apply
    val_batches = int(sys.argv[9]) if len(sys.argv) == 10 else 20
    torch.set_num_threads(2)
    cfg = json.load(open(f"{model}/config.json"))
    ps = {n: t.requires_grad_(True) for n, t in read_safetensors(f"{model}/model.safetensors").items()
          if not n.endswith(".attn.bias") and not n.endswith("masked_bias") and n != "lm_head.weight"}
    params = list(ps.values())
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    toks = read_tokens(train_path)

    def loss_of(x, y):
        if prec == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return forward(ps, cfg, x, y)
        return forward(ps, cfg, x, y)

    cur = 0
    for step in range(1, steps + 1):
        if cur + B * T + 1 > len(toks):
            cur = 0
        buf = toks[cur:cur + B * T + 1]
        cur += B * T
        opt.zero_grad(set_to_none=True)
        loss = loss_of(buf[:-1].view(B, T), buf[1:].view(B, T))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        print(f"step {step} loss {loss.item():.6f}", flush=True)
    val = read_tokens(val_path)
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(val_batches):
            a = i * B * T
            if a + B * T + 1 > len(val):
                break
            buf = val[a:a + B * T + 1]
            total += loss_of(buf[:-1].view(B, T), buf[1:].view(B, T)).item()
            n += 1
    print(f"val loss {total / n:.6f}")


if __name__ == "__main__":
    main()
