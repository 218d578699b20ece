#!/usr/bin/env python3
"""duo_ref.py - an independent reference of the Duo model, for the tests.

Reads a duo GGUF file with its own parser (struct and NumPy only; nothing
from the C code), rebuilds the model of doc/design.md section 2 in float64,
scores the tokens listed in the TSV that `duo score` printed, and compares
every loss with the one in the TSV.

    duo_ref.py MODEL TSV --route R [--context-route R]
               [--tolerance X] [--min-windows K]
    duo_ref.py DENSE-MODEL TSV [--tolerance X] [--min-windows K]

A dense model (architecture 'deci', written by `duo convert --route`)
holds one module per layer and is scored without a route.

The TSV has the header "pos<TAB>token_id<TAB>piece<TAB>loss" and one row
per text token, pos counting from 1; BOS is not a row.  Windows follow
doc/design.md section 4: BOS and up to n_ctx - 1 text tokens each.  The route
that scores token p is applied at input position p - 1: in the shared mode
every position of the window uses it (one pass per window); with a
context route, position p - 1 uses the route and the earlier positions the
context route (one pass per scored token).

Tolerance (default 1e-4 nats): the C model computes in float32 (unit
roundoff 6e-8) and prints six decimals (rounding 5e-7); on the fixture the
differences stay near 1e-5, while any fault of the model moves losses by
far more than 1e-3.

Exit status: 0 every loss within tolerance, 1 some loss is not (the worst
is printed) or too few windows, 99 unreadable input.
"""

import argparse
import struct
import sys

import numpy as np

GGUF_VALUE_FORMATS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
GGUF_STRING = 8
GGUF_ARRAY = 9
TENSOR_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2")}


class BadInput(Exception):
    pass


class GGUFReader:
    """The keys and tensors of a GGUF version 3 file."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0
        if self.take(4) != b"GGUF":
            raise BadInput(f"{path}: not a GGUF file")
        version = self.unpack("<I")
        if version != 3:
            raise BadInput(f"{path}: GGUF version {version}, expected 3")
        n_tensors = self.unpack("<Q")
        n_kv = self.unpack("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = self.string()
            self.kv[key] = self.value(self.unpack("<I"))
        infos = []
        for _ in range(n_tensors):
            name = self.string()
            n_dims = self.unpack("<I")
            ne = [self.unpack("<Q") for _ in range(n_dims)]
            ggml_type = self.unpack("<I")
            offset = self.unpack("<Q")
            infos.append((name, ne, ggml_type, offset))
        alignment = self.kv.get("general.alignment", 32)
        start = (self.pos + alignment - 1) // alignment * alignment
        self.tensors = {}
        for name, ne, ggml_type, offset in infos:
            if ggml_type not in TENSOR_DTYPES:
                raise BadInput(f"{path}: tensor {name} has type {ggml_type}")
            count = int(np.prod(ne))
            array = np.frombuffer(self.data, dtype=TENSOR_DTYPES[ggml_type],
                                  count=count, offset=start + offset)
            # ne[0] varies fastest: a [in, out] tensor is an (out, in) matrix
            self.tensors[name] = array.astype(np.float64).reshape(ne[::-1])

    def take(self, n):
        if self.pos + n > len(self.data):
            raise BadInput("GGUF file ends early")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q")).decode("utf-8", "replace")

    def value(self, value_type):
        if value_type == GGUF_STRING:
            return self.string()
        if value_type == GGUF_ARRAY:
            element_type = self.unpack("<I")
            count = self.unpack("<Q")
            return [self.value(element_type) for _ in range(count)]
        if value_type not in GGUF_VALUE_FORMATS:
            raise BadInput(f"GGUF value type {value_type}")
        return self.unpack(GGUF_VALUE_FORMATS[value_type])


class DuoModel:
    """The weights and hyperparameters of a duo model, in float64."""

    def __init__(self, gguf):
        kv, t = gguf.kv, gguf.tensors
        arch = kv.get("general.architecture")
        if arch not in ("duo", "deci"):
            raise BadInput("general.architecture is not 'duo' or 'deci'")
        # A dense file (architecture 'deci', duo convert --route) has one
        # module per layer under the big module's names, its width and
        # head counts given per layer as llama.cpp reads them.
        self.dense = arch == "deci"
        self.n_layer = kv[f"{arch}.block_count"]
        self.d_model = kv[f"{arch}.embedding_length"]
        self.n_head = kv[f"{arch}.attention.head_count"]
        if self.dense:
            heads = set(self.n_head) | set(
                kv["deci.attention.head_count_kv"])
            if len(heads) != 1 or len(self.n_head) != self.n_layer:
                raise BadInput(f"head counts {sorted(heads)} per layer")
            self.n_head = heads.pop()
        self.n_ctx = kv[f"{arch}.context_length"]
        self.rope_base = kv[f"{arch}.rope.freq_base"]
        self.eps = kv[f"{arch}.attention.layer_norm_rms_epsilon"]
        self.bos = kv["tokenizer.ggml.bos_token_id"]
        self.embedding = t["token_embd.weight"]            # (V, C)
        self.output = t.get("output.weight", self.embedding)
        self.output_norm = t["output_norm.weight"]
        names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                 "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
        if not self.dense:
            names += ["ffn_gate_small", "ffn_up_small", "ffn_down_small"]
        self.layers = []
        for n in range(self.n_layer):
            w = {name: t[f"blk.{n}.{name}.weight"] for name in names}
            if self.dense and w["ffn_gate"].shape[0] != \
                    kv["deci.feed_forward_length"][n]:
                raise BadInput(f"layer {n}: ffn_gate does not match "
                               f"deci.feed_forward_length")
            self.layers.append(w)

    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True)
                           + self.eps) * w

    def rope(self, x):
        """Rotate pairs (2i, 2i+1) of each head by pos * base^(-2i/D)."""
        T = x.shape[0]
        D = self.d_model // self.n_head
        i = np.arange(D // 2)
        angle = np.arange(T)[:, None] * self.rope_base ** (-2.0 * i / D)
        cos = np.cos(angle)[:, None, :]
        sin = np.sin(angle)[:, None, :]
        pairs = x.reshape(T, self.n_head, D // 2, 2)
        x0, x1 = pairs[..., 0], pairs[..., 1]
        out = np.empty_like(pairs)
        out[..., 0] = x0 * cos - x1 * sin
        out[..., 1] = x0 * sin + x1 * cos
        return out.reshape(T, self.d_model)

    def attention(self, h, w):
        T, C, H = h.shape[0], self.d_model, self.n_head
        D = C // H
        q = self.rope(h @ w["attn_q"].T).reshape(T, H, D).transpose(1, 0, 2)
        k = self.rope(h @ w["attn_k"].T).reshape(T, H, D).transpose(1, 0, 2)
        v = (h @ w["attn_v"].T).reshape(T, H, D).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)          # (H, T, T)
        scores[:, np.triu(np.ones((T, T), dtype=bool), 1)] = -np.inf
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        out = (p @ v).transpose(1, 0, 2).reshape(T, C)
        return out @ w["attn_output"].T

    @staticmethod
    def swiglu(h, gate, up, down):
        g = h @ gate.T
        return (g / (1.0 + np.exp(-g)) * (h @ up.T)) @ down.T

    def forward(self, tokens, routes):
        """Logits (T, V); routes[t][l] is 'B', 'S' or '.'."""
        x = self.embedding[np.asarray(tokens)].copy()
        for l, w in enumerate(self.layers):
            x = x + self.attention(self.rmsnorm(x, w["attn_norm"]), w)
            h = self.rmsnorm(x, w["ffn_norm"])
            choice = np.array([r[l] for r in routes])
            big, small = choice == "B", choice == "S"
            if big.any():
                x[big] += self.swiglu(h[big], w["ffn_gate"], w["ffn_up"],
                                      w["ffn_down"])
            if small.any():
                x[small] += self.swiglu(h[small], w["ffn_gate_small"],
                                        w["ffn_up_small"],
                                        w["ffn_down_small"])
        return self.rmsnorm(x, self.output_norm) @ self.output.T


def loss(logits, target):
    m = logits.max()
    return np.log(np.exp(logits - m).sum()) + m - logits[target]


def read_tsv(path):
    ids, losses = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().rstrip("\n")
        if header != "pos\ttoken_id\tpiece\tloss":
            raise BadInput(f"{path}: header is {header!r}")
        for n, line in enumerate(f, start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4 or int(fields[0]) != n:
                raise BadInput(f"{path}: row {n} is {line!r}")
            ids.append(int(fields[1]))
            losses.append(float(fields[-1]))
    if not ids:
        raise BadInput(f"{path}: no rows")
    return ids, np.array(losses)


def reference_losses(model, ids, route, context_route):
    per_window = model.n_ctx - 1
    out = []
    for start in range(0, len(ids), per_window):
        window = [model.bos] + ids[start:start + per_window]
        T = len(window)
        if context_route is None:
            logits = model.forward(window[:-1], [route] * (T - 1))
            out.extend(loss(logits[j - 1], window[j]) for j in range(1, T))
        else:
            for j in range(1, T):
                routes = [context_route] * (j - 1) + [route]
                logits = model.forward(window[:j], routes)
                out.append(loss(logits[-1], window[j]))
    return np.array(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("tsv")
    parser.add_argument("--route")
    parser.add_argument("--context-route")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--min-windows", type=int, default=1)
    args = parser.parse_args()
    try:
        model = DuoModel(GGUFReader(args.model))
        ids, c_losses = read_tsv(args.tsv)
        if model.dense and (args.route or args.context_route):
            raise BadInput("a dense model takes no route")
        if not model.dense and not args.route:
            raise BadInput("--route is required")
        if model.dense:
            # every layer's one module is held as the big one
            args.route = "B" * model.n_layer
        for r in filter(None, (args.route, args.context_route)):
            if len(r) != model.n_layer or set(r) - set("BS."):
                raise BadInput(f"route {r!r} does not fit "
                               f"{model.n_layer} layers")
        if max(ids) >= model.embedding.shape[0] or min(ids) < 0:
            raise BadInput(f"{args.tsv}: token id outside the vocabulary")
    except (OSError, KeyError, ValueError, BadInput) as e:
        print(f"duo_ref.py: {e}", file=sys.stderr)
        return 99
    ref = reference_losses(model, ids, args.route, args.context_route)
    diff = np.abs(ref - c_losses)
    worst = int(np.argmax(diff))
    windows = -(-len(ids) // (model.n_ctx - 1))
    mode = (f"context route {args.context_route}" if args.context_route
            else "dense model" if model.dense else "shared")
    ok = diff[worst] <= args.tolerance and windows >= args.min_windows
    print(f"{'ok  ' if ok else 'FAIL'} route {args.route} ({mode}): "
          f"{len(ids)} tokens in {windows} windows, mean loss "
          f"{ref.mean():.4f}, max abs diff {diff[worst]:.3g} at pos "
          f"{worst + 1} (C {c_losses[worst]:.6f}, reference "
          f"{ref[worst]:.6f}; tolerance {args.tolerance:g})")
    if windows < args.min_windows:
        print(f"FAIL only {windows} windows; at least {args.min_windows} "
              f"expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
