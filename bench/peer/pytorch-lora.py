"""The PyTorch peer of `npm run bench` at a real model shape (issue 8's ratio), for measurement only.

A Llama-shape decoder written out in plain PyTorch (what transformers' LlamaForCausalLM computes in
eager mode: RMSNorm, GQA attention with rotate-half RoPE and a causal mask, SwiGLU MLP, tied head),
random frozen weights, LoRA r=8 / alpha=16 on q_proj and v_proj (PEFT's layout: y = xWᵀ + s·(xAᵀ)Bᵀ),
AdamW on the LoRA matrices only, full-logits cross-entropy, random tokens. Prints one JSON line per
configuration with tokens/s. Not part of the app or its tests (the project stays TypeScript); run it
where PyTorch is installed, e.g. Debian's python3-torch:

  /usr/bin/python3 bench/peer/pytorch-lora.py --config ../shared/tokenizers/smollm2/config.json \
      --batch 4 --seq 256 --threads 2 --steps 3 --warmup 1 [--checkpointing]
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


class Lora(torch.nn.Module):
    def __init__(self, w, r, alpha):
        super().__init__()
        out_f, in_f = w.shape
        self.w = w  # frozen [out, in]
        self.a = torch.nn.Parameter(torch.randn(r, in_f) / math.sqrt(in_f))
        self.b = torch.nn.Parameter(torch.zeros(out_f, r))
        self.s = alpha / r

    def forward(self, x):
        return F.linear(x, self.w) + self.s * F.linear(F.linear(x, self.a), self.b)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


class Layer(torch.nn.Module):
    def __init__(self, c, r, alpha):
        super().__init__()
        C, I, H, K = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"], c["num_key_value_heads"]
        D = C // H
        g = lambda o, i: (torch.randn(o, i) * 0.02).to(torch.bfloat16).float()
        self.H, self.K, self.D, self.eps = H, K, D, c["rms_norm_eps"]
        self.q = Lora(g(H * D, C), r, alpha)
        self.k = g(K * D, C)
        self.v = Lora(g(K * D, C), r, alpha)
        self.o = g(C, H * D)
        self.gate, self.up, self.down = g(I, C), g(I, C), g(C, I)
        self.n1, self.n2 = torch.ones(C), torch.ones(C)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = rms(x, self.n1, self.eps)
        q = self.q(h).view(B, T, self.H, self.D).transpose(1, 2)
        k = F.linear(h, self.k).view(B, T, self.K, self.D).transpose(1, 2)
        v = self.v(h).view(B, T, self.K, self.D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.H // self.K
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.D) + mask, -1)
        x = x + F.linear((p @ v).transpose(1, 2).reshape(B, T, C), self.o)
        h = rms(x, self.n2, self.eps)
        return x + F.linear(F.silu(F.linear(h, self.gate)) * F.linear(h, self.up), self.down)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--checkpointing", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = json.load(open(a.config))
    C, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    H = c["num_attention_heads"]
    D = C // H
    embed = (torch.randn(V, C) * 0.02).to(torch.bfloat16).float()  # tied head
    layers = torch.nn.ModuleList([Layer(c, 8, 16) for _ in range(L)])
    final = torch.ones(C)
    params = [p for p in layers.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-4)
    inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2).float() / D))
    ang = torch.arange(a.seq).float()[:, None] * inv[None, :]
    ang = torch.cat((ang, ang), -1)
    cos, sin = ang.cos()[None, None], ang.sin()[None, None]
    mask = torch.full((a.seq, a.seq), float("-inf")).triu(1)
    ids = torch.randint(0, V, (a.batch, a.seq + 1))

    def step():
        x = embed[ids[:, :-1]]
        for layer in layers:
            x = checkpoint(layer, x, cos, sin, mask, use_reentrant=False) if a.checkpointing else layer(x, cos, sin, mask)
        logits = F.linear(rms(x, final, c["rms_norm_eps"]), embed)
        loss = F.cross_entropy(logits.view(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({
        "peer": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch, "seq_len": a.seq,
        "checkpointing": a.checkpointing, "ms_per_step": round(dt * 1000), "tokens_per_s": round(a.batch * a.seq / dt, 1), "loss": round(loss, 4),
    }))


if __name__ == "__main__":
    main()
