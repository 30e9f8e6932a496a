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
  road       (Rong et al. 2022) at percentile p the k = floor(p*HW/100) pixels first in the order
             (MoRF) or last (LeRF) are removed and filled by linear imputation: each removed pixel
             the weighted mean of its in-image neighbours (direct 1/6, diagonal 1/12, renormalised
             by their sum at the border), removed neighbours included. Solved here as one dense
             HW x HW system per image (identity rows for kept pixels, torch.linalg.solve), then
             sigma * z added to the removed values only, z from make_fixtures.py's SmoothGrad
             generator (normal_noise) with copy s = o*P + j (order o: 0 MoRF, 1 LeRF; percentile j
             of P) and image index r (the map row), element c*HW + pixel. The curve is p_c per
             percentile; combined = (LeRF - MoRF) / 2 per percentile, and its mean.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

from make_fixtures import normal_noise

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


NEIGHBOURS = [(-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
              (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12)]
ROAD_PERCENTILES = [10, 35.5, 90]
ROAD_SIGMA = 0.05
ROAD_SEED = 11


def impute(x, removed):
    """x [C, H, W], removed [H, W] bool: one dense system over all HW pixels, x_p = x_p for kept
    pixels and S_p v_p - sum_q w_pq v_q = 0 for removed ones (q over p's in-image neighbours)."""
    C, H, W = x.shape
    P = H * W
    M = torch.zeros(P, P)
    rhs = x.reshape(C, P).T.clone()
    rem = removed.reshape(-1)
    for p in range(P):
        if not rem[p]:
            M[p, p] = 1
            continue
        rhs[p] = 0
        y, xx = divmod(p, W)
        for dy, dx, w in NEIGHBOURS:
            if 0 <= y + dy < H and 0 <= xx + dx < W:
                M[p, p] += w
                M[p, (y + dy) * W + xx + dx] -= w
    return torch.linalg.solve(M, rhs).T.reshape(C, H, W)


def road_images(x, m, r, o):
    """x [C, H, W], map m [H, W] of row r, order o (0 MoRF, 1 LeRF): one image per percentile."""
    C, H, W = x.shape
    HW = H * W
    _, order = torch.sort(-m.reshape(-1), stable=True)
    if o == 1:
        order = order.flip(0)
    P = len(ROAD_PERCENTILES)
    out = []
    for j, pc in enumerate(ROAD_PERCENTILES):
        k = int(math.floor(pc * HW / 100))
        removed = torch.zeros(HW, dtype=torch.bool)
        removed[order[:k]] = True
        img = impute(x, removed.reshape(H, W))
        z = normal_noise(ROAD_SEED, o * P + j, r, C * HW).reshape(C, H, W)
        out.append(torch.where(removed.reshape(1, H, W), img + ROAD_SIGMA * z, x))
    return torch.stack(out)


def check_impute():
    # The centre of a 3x3 ramp, its neighbours kept: the weighted mean, 4 by symmetry.
    x3 = torch.arange(9.0).reshape(1, 3, 3)
    mid = torch.zeros(3, 3, dtype=torch.bool)
    mid[1, 1] = True
    assert abs(float(impute(x3, mid)[0, 1, 1]) - 4.0) < 1e-12
    # A corner: its neighbours right (1/6), below (1/6), diagonal (1/12), renormalised by 5/12.
    corner = torch.zeros(3, 3, dtype=torch.bool)
    corner[0, 0] = True
    want = (1 / 6 * 1 + 1 / 6 * 3 + 1 / 12 * 4) / (5 / 12)
    assert abs(float(impute(x3, corner)[0, 0, 0]) - want) < 1e-12


def main():
    check_impute()
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
    road = {"road_morf": [], "road_lerf": [], "road": []}
    road_row0 = []
    for t, c in enumerate(targets):
        for i in range(N):
            r = t * N + i
            curves = []
            for o, key in ((0, "road_morf"), (1, "road_lerf")):
                imgs = road_images(x[i], maps[t, i], r, o)
                if r == 0:
                    road_row0.append(imgs)
                cv = torch.softmax(net(imgs), dim=1)[:, c]
                road[key].append({"curve": [rnd(v) for v in cv.tolist()]})
                curves.append(cv)
            comb = (curves[1] - curves[0]) / 2
            road["road"].append({"curve": [rnd(v) for v in comb.tolist()], "value": rnd(comb.mean())})
    res = {
        "version": f"{SCRIPT_VERSION}; torch {torch.__version__}",
        "source": "gap_head.json",
        "notes": {"rows": "row r = t*N + i (target t, image i)", "steps": steps,
                  "blur": "11x11 Gaussian, sigma 5, zero padding",
                  "road": {"percentiles": ROAD_PERCENTILES, "sigma": ROAD_SIGMA, "seed": ROAD_SEED,
                           "images": "road_images: row 0, MoRF then LeRF, one image per percentile"}},
        "input": tensor_json(x),
        "targets": targets,
        "maps": tensor_json(maps),
        "blurred": tensor_json(blurred),
        "expected": {**out, **conf, **road},
        "road_images": tensor_json(torch.cat(road_row0)),
    }
    with open(os.path.join(FIXTURES, "metrics.json"), "w") as f:
        json.dump(res, f)
    print("wrote test/fixtures/metrics.json", targets)


if __name__ == "__main__":
    main()
