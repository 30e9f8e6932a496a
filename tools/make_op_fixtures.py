#!/usr/bin/python3
"""Golden values for the elementwise ops of the engine, from PyTorch autograd (float64).

Run with Debian's interpreter (python3-torch):

    /usr/bin/python3 tools/make_op_fixtures.py        (writes test/fixtures/ops.json)

For every unary op of src/defs/elementwise.ts and each parameter set, at fixed inputs x (away
from the ops' kinks) and upstream gradients dy: y = f(x) and dx = dy * f'(x) computed by
torch.autograd on the torch function that defines the op (torch.nn.functional where it has one,
the ONNX formula written in torch otherwise: HardSigmoid's alpha*x + beta, Pow). For every
binary op, a and b broadcast [2, 3, 1] with [1, 3, 4]: y, da and db (summed over the broadcast
dims by autograd). test/ops/pytorch_ops.test.ts checks the CPU reference against these; the
GPU kernels are checked against the reference in test/ops/elementwise.test.ts. The output is
deterministic: rerunning gives the same file.
"""

import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures", "ops.json")
DIGITS = 17

# Inputs over [-5, 5] avoiding the kinks of the piecewise ops (0, ±3, ±2.5, the clip bounds).
X = [-4.7, -3.4, -2.9, -2.2, -1.6, -1.1, -0.8, -0.45, -0.3, -0.05, 0.07, 0.2, 0.6, 0.9, 1.3, 1.8, 2.7, 3.3, 4.4]
DY = [((i * 37) % 11 - 5) / 3 for i in range(len(X))]
POSITIVE = [0.05, 0.2, 0.5, 0.9, 1.4, 2.2, 3.1, 4.8]

UNARY = [
    ("relu", {}, F.relu, X),
    ("clip", {"min": -0.5, "max": 0.75}, lambda x: torch.clamp(x, -0.5, 0.75), X),
    ("leakyrelu", {"alpha": 0.25}, lambda x: F.leaky_relu(x, 0.25), X),
    ("elu", {"alpha": 0.75}, lambda x: F.elu(x, 0.75), X),
    ("sigmoid", {}, torch.sigmoid, X),
    ("silu", {}, F.silu, X),
    ("tanh", {}, torch.tanh, X),
    ("hardsigmoid", {"alpha": 0.2, "beta": 0.5}, lambda x: torch.clamp(0.2 * x + 0.5, 0, 1), X),
    ("hardswish", {}, F.hardswish, X),
    ("erf", {}, torch.erf, X),
    ("gelu", {}, F.gelu, X),
    ("gelu_tanh", {}, lambda x: F.gelu(x, approximate="tanh"), X),
    ("sqrt", {}, torch.sqrt, POSITIVE),
    ("neg", {}, torch.neg, X),
    ("pow", {"exponent": 2}, lambda x: x ** 2, X),
    ("pow", {"exponent": 3}, lambda x: x ** 3, X),
    ("pow", {"exponent": 0.5}, lambda x: x ** 0.5, POSITIVE),
]

BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("prelu", lambda a, b: torch.where(a > 0, a, a * b)),
]


def values(t):
    return [float(f"{v:.{DIGITS}g}") for v in t.detach().reshape(-1).tolist()]


def main():
    unary = []
    for name, params, f, xs in UNARY:
        x = torch.tensor(xs, requires_grad=True)
        dy = torch.tensor(DY[: len(xs)])
        y = f(x)
        (dx,) = torch.autograd.grad(y, x, dy)
        unary.append({"op": name, "params": params, "x": values(x), "dy": values(dy), "y": values(y), "dx": values(dx)})
    gen = torch.Generator().manual_seed(20261201)
    a0 = torch.randn(2, 3, 1, generator=gen)
    b0 = torch.randn(1, 3, 4, generator=gen)
    b0 = torch.where(b0.abs() < 0.3, b0.sign() * 0.3 + b0, b0)  # divisors away from 0
    dy = torch.randn(2, 3, 4, generator=gen)
    binary = []
    for name, f in BINARY:
        a = a0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        y = f(a, b)
        da, db = torch.autograd.grad(y, (a, b), dy)
        binary.append({"op": name, "y": values(y), "da": values(da), "db": values(db)})
    doc = {
        "version": f"make_op_fixtures.py 1.0.0; torch {torch.__version__}",
        "unary": unary,
        "binary": {"a": {"shape": [2, 3, 1], "data": values(a0)}, "b": {"shape": [1, 3, 4], "data": values(b0)},
                   "dy": {"shape": [2, 3, 4], "data": values(dy)}, "ops": binary},
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"make_op_fixtures: {len(unary)} unary and {len(binary)} binary cases -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
