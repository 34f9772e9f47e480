"""Trains a small byte-level GPT-2 on real English text and exports it to ONNX.

    python3 train.py OUT_DIR [STEPS]

Text: the license texts every Debian system has in /usr/share/common-licenses (package
base-files). Whole files are split, never lines: `EVALUATION` is held out (scored only),
`CALIBRATION` is text for calibrating passes (never trained on), the rest is trained on.
Families of near-copies (GPL-1/2/3, LGPL-2/2.1/3, GFDL-1.2/1.3, MPL-1.1/2.0) stay on one side.

The module is transformers 4.35's GPT2LMHeadModel (Conv1D as addmm, fused c_attn then split,
masked eager attention, gelu_new, LM head tied to the token embedding) at a small size, with a
vocabulary of the 256 byte values. Training is seeded, on a fixed number of threads, so the same
machine gives the same weights. The export is torch.onnx's, with dynamic batch and sequence.

Writes OUT_DIR/model.onnx, OUT_DIR/{train,calibration,evaluation}.bin (the bytes of each split)
and OUT_DIR/manifest.json (config, files, steps, final losses, seconds).
"""

import json
import math
import os
import sys
import time

# OpenMP threads that spin while they wait stall for seconds on a busy machine (a step took 14 s
# instead of 0.1 s at load 20); set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from torch import nn

LICENSES = "/usr/share/common-licenses"
EVALUATION = ["Apache-2.0", "Artistic"]
CALIBRATION = ["CC0-1.0", "BSD"]
TRAIN = ["GPL-2", "GPL-3", "LGPL-2.1", "GFDL-1.3", "MPL-2.0"]

CONFIG = {"layers": 3, "hidden": 128, "heads": 4, "positions": 128, "vocab": 256}
BATCH = 8
LENGTH = 128
LR = 3e-3
THREADS = 2
SEED = 0

FMIN = torch.finfo(torch.float32).min


class Conv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class Attention(nn.Module):
    def __init__(self, hidden, heads, positions):
        super().__init__()
        mask = torch.tril(torch.ones((positions, positions), dtype=torch.bool))
        self.register_buffer("bias", mask.view(1, 1, positions, positions), persistent=False)
        self.heads = heads
        self.head_dim = hidden // heads
        self.split_size = hidden
        self.c_attn = Conv1D(3 * hidden, hidden)
        self.c_proj = Conv1D(hidden, hidden)

    def split_heads(self, t):
        return t.view(t.size()[:-1] + (self.heads, self.head_dim)).permute(0, 2, 1, 3)

    def forward(self, x):
        query, key, value = self.c_attn(x).split(self.split_size, dim=2)
        query, key, value = self.split_heads(query), self.split_heads(key), self.split_heads(value)
        w = torch.matmul(query, key.transpose(-1, -2))
        w = w / torch.full([], value.size(-1) ** 0.5, dtype=w.dtype)
        q_len, k_len = query.size(-2), key.size(-2)
        causal = self.bias[:, :, k_len - q_len : k_len, :k_len]
        w = torch.where(causal, w, torch.full([], FMIN, dtype=w.dtype))
        w = nn.functional.softmax(w, dim=-1)
        out = torch.matmul(w, value).permute(0, 2, 1, 3).contiguous()
        return self.c_proj(out.view(out.size()[:-2] + (self.heads * self.head_dim,)))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Block(nn.Module):
    def __init__(self, hidden, heads, positions):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-5)
        self.attn = Attention(hidden, heads, positions)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-5)
        self.c_fc = Conv1D(4 * hidden, hidden)
        self.c_proj = Conv1D(hidden, 4 * hidden)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(gelu_new(self.c_fc(self.ln_2(x))))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, layers, hidden, heads, positions, vocab):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(positions, hidden)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.h = nn.ModuleList([Block(hidden, heads, positions) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(hidden, eps=1e-5)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2's
        for block in self.h:  # GPT-2's scaled init of the residual projections
            for proj in (block.attn.c_proj, block.c_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, input_ids):
        positions = torch.arange(0, input_ids.size(-1), dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def read(names):
    return b"".join(open(os.path.join(LICENSES, n), "rb").read() for n in names)


def mean_loss(model, data, windows):
    """Mean next-byte loss (nats) over non-overlapping windows of LENGTH bytes."""
    losses = []
    with torch.no_grad():
        for start in range(0, min(len(data) - LENGTH - 1, windows * LENGTH), LENGTH):
            x = torch.tensor(list(data[start : start + LENGTH]), dtype=torch.long).unsqueeze(0)
            logits = model(x)
            losses.append(nn.functional.cross_entropy(logits[0, :-1], x[0, 1:]).item())
    return sum(losses) / len(losses)


def main():
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    train, calibration, evaluation = read(TRAIN), read(CALIBRATION), read(EVALUATION)
    data = torch.tensor(list(train), dtype=torch.long)
    model = GPT2LMHeadModel(**CONFIG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
    generator = torch.Generator().manual_seed(SEED)
    began = time.time()
    for step in range(steps):
        lr = LR * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(data) - LENGTH - 1, (BATCH,), generator=generator)
        x = torch.stack([data[s : s + LENGTH + 1] for s in starts.tolist()])
        logits = model(x[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, CONFIG["vocab"]), x[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.3f} {time.time() - began:.0f}s", file=sys.stderr)
    model.eval()
    trained = time.time() - began
    held_out = mean_loss(model, evaluation, 1000)
    torch.onnx.export(
        model,
        (torch.zeros((1, LENGTH), dtype=torch.long),),
        os.path.join(out, "model.onnx"),
        input_names=["input_ids"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
        opset_version=14,
        do_constant_folding=True,
    )
    for name, text in (("train", train), ("calibration", calibration), ("evaluation", evaluation)):
        open(os.path.join(out, f"{name}.bin"), "wb").write(text)
    manifest = {
        "config": CONFIG,
        "text": LICENSES,
        "files": {"train": TRAIN, "calibration": CALIBRATION, "evaluation": EVALUATION},
        "bytes": {"train": len(train), "calibration": len(calibration), "evaluation": len(evaluation)},
        "steps": steps,
        "batch": BATCH,
        "length": LENGTH,
        "seed": SEED,
        "threads": THREADS,
        "trainSeconds": round(trained, 1),
        "heldOutBitsPerByte": held_out / math.log(2),
        "torch": torch.__version__,
    }
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
    print(json.dumps(manifest), file=sys.stderr)


if __name__ == "__main__":
    main()
