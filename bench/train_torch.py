#!/usr/bin/python3
"""PyTorch peer for bench/train: the same GPT-2 training step (forward,
backward, clip_grad_norm_, AdamW) on random tokens, timed per step.

    bench/train_torch.py L H C V B T STEPS [fp32|bf16]
Prints one line per step: "step K ms M". bf16 runs the forward (and so
the backward) under torch.autocast("cpu", torch.bfloat16). Settings chosen for speed on CPU:
2 threads (torch.set_num_threads), nn.Linear (addmm into MKL/OpenBLAS
sgemm), AdamW(foreach=True), grads set to None instead of zeroed.
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        b, t, c = x.shape
        hs = c // self.H
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q = q.view(b, t, self.H, hs).transpose(1, 2)
        k = k.view(b, t, self.H, hs).transpose(1, 2)
        v = v.view(b, t, self.H, hs).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask[:t, :t] == 0, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        h = self.c_fc(self.ln_2(x))
        return x + self.mlp_proj(F.gelu(h, approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, H, C, V, ctx):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(ctx, C)
        self.h = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    L, H, C, V, B, T, steps = map(int, sys.argv[1:8])
    bf16 = len(sys.argv) > 8 and sys.argv[8] == "bf16"
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = GPT(L, H, C, V, 1024)
    params = list(model.parameters())
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    idx = torch.randint(0, V, (B, T))
    tgt = torch.randint(0, V, (B, T))
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} params {sum(p.numel() for p in params)}"
          f" {'bf16 autocast' if bf16 else 'fp32'}",
          flush=True)
    for s in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(idx, tgt)
        else:
            loss = model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ms = (time.perf_counter() - t0) * 1000
        print(f"step {s + 1} loss {loss.item():.4f} ms {ms:.1f}", flush=True)


if __name__ == "__main__":
    main()
