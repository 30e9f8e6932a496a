#!/usr/bin/python3
"""Golden values for webgpu-cam's faithfulness metrics, computed independently in PyTorch.

Run with Debian's interpreter (it has torch 1.13):   /usr/bin/python3 tools/make_metric_fixtures.py
Reads the network and input of test/fixtures/gap_head.json (tools/make_fixtures.py), draws a map
per (target, image) row and writes test/fixtures/metrics.json.

Written from the papers, not from the engine's code:
  deletion   (Petsiuk et al. 2018, RISE): pixels sorted by the map, most relevant first (torch.sort,
             stable, on -map: equal values keep pixel order); at step s of n the first
             floor(s*HW/n) pixels (all channels) are replaced by the baseline; n + 1 images.
  insertion  the baseline, with the first floor(s*HW/n) pixels taken from the input.
  score      softmax probability of the row's target.
  auc        trapezoid rule over s/n in [0, 1] (torch.trapz with dx = 1/n).
  blur       11x11 Gaussian, sigma 5, sampled at integer offsets and normalised to sum 1, applied
             per channel with F.conv2d(padding=5) (zeros outside the image).
  confidence (Chattopadhay et al. 2018): Y = p_c(x), O = p_c(x * map);
             drop = max(0, Y - O) / Y * 100, increase = O > Y.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

SCRIPT_VERSION = "make_metric_fixtures.py 1.0.0"
SEED = 20261201
DIGITS = 9
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")

torch.set_default_dtype(torch.float64)


def rnd(v):
    v = float(v)
    assert math.isfinite(v), v
    return float(f"{v:.{DIGITS}g}")


def tensor_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [rnd(v) for v in t.reshape(-1).tolist()]}


def load(t):
    # 9 significant digits round-trip to the float32 values the engine loads.
    return torch.tensor(t["data"]).float().double().reshape(t["shape"])


def net_from_spec(spec):
    """The GraphSpec as a function of x, with torch.nn.functional (the ops of gap_head only)."""
    def run(x):
        t = {spec["input"]["name"]: x}
        for n in spec["nodes"]:
            a = n.get("attrs") or {}
            xs = [t[i] for i in n["inputs"]]
            op = n["op"]
            if op == "conv2d":
                top, left, bottom, right = a["pads"]
                w, b = load(n["weights"]["weight"]), load(n["weights"]["bias"])
                y = F.conv2d(F.pad(xs[0], (left, right, top, bottom)), w, b,
                             stride=a["stride"], dilation=a["dilation"], groups=a["groups"])
            elif op == "relu":
                y = torch.relu(xs[0])
            elif op == "maxpool2d":
                top, left, bottom, right = a["pads"]
                y = F.max_pool2d(F.pad(xs[0], (left, right, top, bottom), value=-math.inf), a["kernel"], a["stride"])
            elif op == "globalavgpool":
                y = F.adaptive_avg_pool2d(xs[0], 1)
            elif op == "flatten":
                y = torch.flatten(xs[0], 1)
            elif op == "linear":
                y = F.linear(xs[0], load(n["weights"]["weight"]), load(n["weights"]["bias"]))
            else:
                raise ValueError(op)
            t[n["output"]] = y
        return t[spec["output"]]
    return run


def blur(x, klen=11, sigma=5.0):
    d = torch.arange(klen, dtype=torch.float64) - klen // 2
    g = torch.exp(-d ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    k2 = torch.outer(g, g)
    C = x.shape[1]
    w = k2.expand(C, 1, klen, klen).contiguous()
    return F.conv2d(x, w, padding=klen // 2, groups=C)


def curve(net, x, m, c, steps, baseline, insertion):
    """x [C, H, W], m [H, W], class c: the n + 1 scores."""
    C, H, W = x.shape
    HW = H * W
    _, order = torch.sort(-m.reshape(-1), stable=True)
    imgs = []
    for s in range(steps + 1):
        k = (s * HW) // steps
        chosen = torch.zeros(HW, dtype=torch.bool)
        chosen[order[:k]] = True
        chosen = chosen.reshape(1, H, W).expand(C, H, W)
        if insertion:
            imgs.append(torch.where(chosen, x, baseline))
        else:
            imgs.append(torch.where(chosen, baseline, x))
    p = torch.softmax(net(torch.stack(imgs)), dim=1)[:, c]
    return p


def main():
    fx = json.load(open(os.path.join(FIXTURES, "gap_head.json")))
    spec = fx["graph"]
    net = net_from_spec(spec)
    x1 = load(fx["input"])  # [1, C, H, W]
    g = torch.Generator().manual_seed(SEED)
    _, C, H, W = x1.shape
    # Two images: the fixture's and a second drawn here (float32 values).
    x = torch.cat([x1, torch.randn(1, C, H, W, generator=g).float().double()])
    N = x.shape[0]
    logits = net(x)
    targets = [int(logits[0].argmax()), int(logits[0].argmin())]
    T = len(targets)
    # Maps in [0, 1] on a grid of 1/8: many ties, which the order breaks by pixel index.
    maps = torch.floor(torch.rand(T, N, H, W, generator=g) * 9) / 8
    steps = 6
    zero = torch.zeros_like(x)
    blurred = blur(x)
    out = {"deletion_zero": [], "insertion_blur": [], "deletion_blur": []}
    conf = {"score": [], "masked": [], "drop": [], "increase": []}
    probs = torch.softmax(logits, dim=1)
    for t, c in enumerate(targets):
        for i in range(N):
            m = maps[t, i]
            for key, base, ins in (("deletion_zero", zero, False), ("insertion_blur", blurred, True),
                                   ("deletion_blur", blurred, False)):
                cv = curve(net, x[i], m, c, steps, base[i], ins)
                out[key].append({"curve": [rnd(v) for v in cv.tolist()],
                                 "auc": rnd(torch.trapz(cv, dx=1.0 / steps))})
            Y = probs[i, c]
            O = torch.softmax(net((x[i] * m).unsqueeze(0)), dim=1)[0, c]
            conf["score"].append(rnd(Y))
            conf["masked"].append(rnd(O))
            conf["drop"].append(rnd(max(0.0, float(Y - O)) / float(Y) * 100))
            conf["increase"].append(bool(O > Y))
    res = {
        "version": f"{SCRIPT_VERSION}; torch {torch.__version__}",
        "source": "gap_head.json",
        "notes": {"rows": "row r = t*N + i (target t, image i)", "steps": steps,
                  "blur": "11x11 Gaussian, sigma 5, zero padding"},
        "input": tensor_json(x),
        "targets": targets,
        "maps": tensor_json(maps),
        "blurred": tensor_json(blurred),
        "expected": {**out, **conf},
    }
    with open(os.path.join(FIXTURES, "metrics.json"), "w") as f:
        json.dump(res, f)
    print("wrote test/fixtures/metrics.json", targets)


if __name__ == "__main__":
    main()
