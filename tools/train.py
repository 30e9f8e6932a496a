#!/usr/bin/python3
"""Train the two shipped classifiers on fashion scenes and export them to weights/ as ONNX.

Run with Debian's interpreter (torch 1.13, onnx, numpy, PIL, tqdm):

    /usr/bin/python3 tools/train.py                 # data (if missing), both models, model card
    /usr/bin/python3 tools/train.py --model fashion_cam --epochs 2
    /usr/bin/python3 tools/train.py --card-only     # rewrite weights/MODEL_CARD.md from sidecars

Models (both multi-label, BCEWithLogits, input [1, 3, 96, 96] named 'input', output 'logits'):
  fashion_cam   conv stack -> GlobalAveragePool -> linear(10)            (CAM applies)
  fashion_deep  conv stack -> GlobalAveragePool -> linear -> ReLU -> linear(10)
                (layers after the last conv: CAM does not apply, Grad-CAM does)
The conv stack is six conv3x3-BN-ReLU blocks (a stride-2 first conv, 2x2 max-pools after the
second and fourth), ending at a [128, 12, 12] map.

Outputs: weights/<model>.onnx (opset 13, BatchNormalization kept, not folded), weights/<model>.json
(labels, normalisation, input size, the layer for CAM, training settings and test metrics) and
weights/MODEL_CARD.md (rendered from the sidecars). Checkpoints go to data/checkpoints/ (ignored
by git). The exported file is checked: onnx.checker, the operator set, and logits recomputed by a
small numpy interpreter of the ONNX graph must match PyTorch's.
"""

import argparse
import collections
import json
import os
import platform
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_scenes as fs  # noqa: E402

VERSION = "train.py 1.0.0"
ROOT = fs.ROOT
WEIGHTS = os.path.join(ROOT, "weights")
DATA = os.path.join(ROOT, "data")
MODELS = ["fashion_cam", "fashion_deep"]
ALLOWED_OPS = {
    "Conv",
    "BatchNormalization",
    "Relu",
    "MaxPool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Gemm",
    "MatMul",
    "Add",
}
CHANNELS = [16, 32, 48, 64, 96, 128]  # conv widths
STRIDES = [2, 1, 1, 1, 1, 1]  # conv1 is a stride-2 stem: 96 -> 48
POOLS = (2, 4)  # 2x2 max-pools after these convs: 48 -> 24 -> 12


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


def conv_stack():
    """[N,3,96,96] -> [N,128,12,12]: six conv3x3-BN-ReLU blocks (the first with stride 2), 2x2
    max-pools after the second and the fourth."""
    layers = collections.OrderedDict()
    cin = 3
    for i, (cout, stride) in enumerate(zip(CHANNELS, STRIDES), start=1):
        layers[f"conv{i}"] = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        layers[f"bn{i}"] = nn.BatchNorm2d(cout)
        layers[f"relu{i}"] = nn.ReLU(inplace=True)
        if i in POOLS:
            layers[f"pool{i}"] = nn.MaxPool2d(2)
        cin = cout
    return nn.Sequential(layers)


class FashionNet(nn.Module):
    def __init__(self, deep, hidden=128):
        super().__init__()
        self.features = conv_stack()
        self.gap = nn.AdaptiveAvgPool2d(1)  # exported as GlobalAveragePool
        self.flatten = nn.Flatten()
        k = CHANNELS[-1]
        if deep:
            self.head = nn.Sequential(
                collections.OrderedDict(
                    [("fc1", nn.Linear(k, hidden)), ("relu", nn.ReLU(inplace=True)), ("fc2", nn.Linear(hidden, 10))]
                )
            )
        else:
            self.head = nn.Sequential(collections.OrderedDict([("fc", nn.Linear(k, 10))]))

    def forward(self, x):
        return self.head(self.flatten(self.gap(self.features(x))))


def build(name):
    return FashionNet(deep=(name == "fashion_deep"))


def describe(name):
    convs = " → ".join(
        f"conv3×3({c}{', stride 2' if s == 2 else ''})-BN-ReLU" + (" → maxpool2×2" if i in POOLS else "")
        for i, (c, s) in enumerate(zip(CHANNELS, STRIDES), 1)
    )
    head = "GAP → linear(128→128) → ReLU → linear(128→10)" if name == "fashion_deep" else "GAP → linear(128→10)"
    return f"input [1,3,96,96] → {convs} → [128,12,12] → {head}"


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def ensure_split(split, count, data_dir):
    """Load a split from data_dir/<split>, generating it first when missing or of another size."""
    out = os.path.join(data_dir, split)
    path = os.path.join(out, "annotations.json")
    if os.path.exists(path):
        with open(path) as f:
            meta = json.load(f)
        ok = meta.get("format") == fs.FORMAT and meta.get("generator") == fs.VERSION
        if ok and meta["count"] == count and meta["start"] == 0 and meta["config"] == fs.dataclasses.asdict(fs.SceneConfig()):
            return fs.read_split(out), 0.0
    dt = fs.write_split(out, split, count, fs.SceneConfig())
    return fs.read_split(out), dt


def channel_stats(images):
    """Per-channel mean and std of images [N,H,W,3] uint8 scaled to [0, 1] (float64 sums)."""
    s = np.zeros(3)
    s2 = np.zeros(3)
    n = 0
    for i in range(0, len(images), 2048):
        x = images[i : i + 2048].reshape(-1, 3).astype(np.float64) / 255.0
        s += x.sum(0)
        s2 += (x * x).sum(0)
        n += len(x)
    mean = s / n
    std = np.sqrt(s2 / n - mean * mean)
    return [round(float(v), 4) for v in mean], [round(float(v), 4) for v in std]


class Batches:
    """uint8 NHWC scenes -> normalised float NCHW batches, with optional random horizontal flips."""

    def __init__(self, images, targets, mean, std):
        self.images = torch.from_numpy(images)
        self.targets = torch.from_numpy(targets)
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def __len__(self):
        return len(self.images)

    def get(self, idx, flip_gen=None):
        x = self.images[idx].permute(0, 3, 1, 2).float().div_(255)
        x = (x - self.mean) / self.std
        if flip_gen is not None:
            flip = torch.rand(len(idx), generator=flip_gen) < 0.5
            x[flip] = x[flip].flip(3)
        return x.contiguous(), self.targets[idx]


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def average_precision(scores, targets):
    """Non-interpolated AP of one class: mean precision at the rank of each positive.

    Scores sorted descending (stable); equals sklearn's average_precision_score when scores are
    distinct. NaN when the class has no positive.
    """
    order = np.argsort(-scores, kind="stable")
    t = targets[order]
    if t.sum() == 0:
        return float("nan")
    precision = np.cumsum(t) / np.arange(1, len(t) + 1)
    return float((precision * t).sum() / t.sum())


def metrics(logits, targets, records):
    ap = [average_precision(logits[:, c], targets[:, c]) for c in range(fs.NUM_CLASSES)]
    pred = logits > 0
    single = np.array([len(r["items"]) == 1 for r in records])
    top1 = logits.argmax(1) == targets.argmax(1)
    return {
        "mAP": round(float(np.nanmean(ap)), 4),
        "AP": {fs.LABELS[c]: round(ap[c], 4) for c in range(fs.NUM_CLASSES)},
        "exactMatch": round(float((pred == (targets > 0)).all(1).mean()), 4),
        "singleItemTop1": round(float(top1[single].mean()), 4) if single.any() else None,
        "scenes": len(targets),
        "singleItemScenes": int(single.sum()),
    }


@torch.no_grad()
def predict(model, data, batch=256):
    model.eval()
    out = []
    for i in range(0, len(data), batch):
        x, _ = data.get(torch.arange(i, min(i + batch, len(data))))
        out.append(model(x))
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------------------------
# ONNX export and check
# ----------------------------------------------------------------------------------------------


def export_onnx(model, path, size):
    model.eval()
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model,
        dummy,
        path,
        opset_version=13,
        input_names=["input"],
        output_names=["logits"],
        # PRESERVE (the model is in eval mode) keeps BatchNormalization nodes: folding them into
        # the convs is the importer's job. EVAL would run torch's Conv+BN fusion here.
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,  # nothing to fold; BN stays a node
    )


def add_metadata(path, meta):
    """Store labels, mean, std and inputSize (JSON text) in the model's metadata_props."""
    m = onnx.load(path)
    del m.metadata_props[:]
    for key, value in meta.items():
        prop = m.metadata_props.add()
        prop.key = key
        prop.value = json.dumps(value)
    onnx.save(m, path)


def run_onnx_numpy(model_proto, x):
    """A plain numpy interpreter for the few ops the shipped models use; returns (logits, macs)."""
    g = model_proto.graph
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    env[g.input[0].name] = x.astype(np.float64)
    macs = 0
    for node in g.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        ins = [env[i] for i in node.input if i]
        op = node.op_type
        if op == "Conv":
            xx, w = ins[0], ins[1]
            assert a.get("group", 1) == 1 and set(a.get("dilations", [1, 1])) == {1}
            sh, sw = a.get("strides", [1, 1])
            pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
            xx = np.pad(xx, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
            kh, kw = w.shape[2:]
            win = np.lib.stride_tricks.sliding_window_view(xx, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
            y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
            if len(ins) > 2:
                y = y + ins[2].reshape(1, -1, 1, 1)
            macs += y[0].size * w[0].size
        elif op == "BatchNormalization":
            xx, scale, bias, mean, var = ins
            r = lambda v: v.reshape(1, -1, 1, 1)  # noqa: E731
            y = (xx - r(mean)) / np.sqrt(r(var) + a.get("epsilon", 1e-5)) * r(scale) + r(bias)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            assert a["kernel_shape"] == a["strides"] == [2, 2] and not any(a.get("pads", [0]))
            n, c, h, w = ins[0].shape
            y = ins[0][:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max((3, 5))
        elif op == "GlobalAveragePool":
            y = ins[0].mean((2, 3), keepdims=True)
        elif op == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "Gemm":
            aa, bb = ins[0], ins[1]
            if a.get("transA", 0):
                aa = aa.T
            if a.get("transB", 0):
                bb = bb.T
            y = a.get("alpha", 1.0) * aa @ bb
            if len(ins) > 2:
                y = y + a.get("beta", 1.0) * ins[2]
            macs += aa.shape[0] * aa.shape[1] * bb.shape[1]
        else:
            raise NotImplementedError(f"numpy check: op {op} ({node.name})")
        env[node.output[0]] = y
    return env[g.output[0].name], macs


def cam_layer(model_proto):
    """Name of the tensor that feeds GlobalAveragePool (the last conv block's ReLU output)."""
    for node in model_proto.graph.node:
        if node.op_type == "GlobalAveragePool":
            return node.input[0]
    raise ValueError("no GlobalAveragePool in the graph")


def check_onnx(path, model, data, size):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    extra = set(ops) - ALLOWED_OPS
    if extra:
        raise RuntimeError(f"{path}: ops {sorted(extra)} are outside the supported set {sorted(ALLOWED_OPS)}")
    if [i.name for i in m.graph.input] != ["input"] or [o.name for o in m.graph.output] != ["logits"]:
        raise RuntimeError(f"{path}: inputs/outputs are not ['input'] / ['logits']")
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    if dims != [1, 3, size, size]:
        raise RuntimeError(f"{path}: input shape {dims}, expected [1, 3, {size}, {size}]")
    x, _ = data.get(torch.arange(4))
    with torch.no_grad():
        ref = model.eval()(x).double().numpy()
    worst = 0.0
    macs = 0
    for i in range(len(x)):
        got, macs = run_onnx_numpy(m, x[i : i + 1].numpy())
        worst = max(worst, float(np.abs(got - ref[i : i + 1]).max()))
    if worst > 1e-3:
        raise RuntimeError(f"{path}: numpy-interpreted logits differ from PyTorch's by {worst:.3g}")
    return {"ops": ops, "maxAbsDiffVsTorch": float(f"{worst:.3g}"), "macs": int(macs)}


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------


def train_one(name, args, train, val, val_records, test, test_records, norm, data_times):
    torch.manual_seed(args.seed)
    model = build(name)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(train) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15
    )
    gen = torch.Generator().manual_seed(args.seed)
    ckpt_dir = os.path.join(DATA, "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    history = []
    best = (-1.0, None, 0)
    t0 = time.time()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(train), generator=gen)
        te = time.time()
        total = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"{name} epoch {epoch}/{args.epochs}", mininterval=5)
        for s in bar:
            x, y = train.get(perm[s * args.batch : (s + 1) * args.batch], gen)
            loss = F.binary_cross_entropy_with_logits(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            if s % 50 == 0:
                bar.set_postfix(loss=f"{total / (s + 1):.4f}")
        train_s = time.time() - te
        v = predict(model, val)
        val_loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(v), val.targets).item())
        vm = metrics(v, val.targets.numpy(), val_records)
        history.append(
            {
                "epoch": epoch,
                "trainLoss": round(total / steps_per_epoch, 4),
                "valLoss": round(val_loss, 4),
                "valMAP": vm["mAP"],
                "seconds": round(time.time() - te, 1),
                "trainSeconds": round(train_s, 1),
            }
        )
        print(f"{name} epoch {epoch}: {history[-1]}", flush=True)
        state = {k: t.clone() for k, t in model.state_dict().items()}
        torch.save({"model": state, "optimizer": opt.state_dict(), "epoch": epoch, "history": history},
                   os.path.join(ckpt_dir, f"{name}.last.pt"))
        if vm["mAP"] > best[0]:
            best = (vm["mAP"], state, epoch)
            torch.save({"model": state, "epoch": epoch, "val": vm}, os.path.join(ckpt_dir, f"{name}.best.pt"))
    train_seconds = time.time() - t0
    model.load_state_dict(best[1])

    val_m = metrics(predict(model, val), val.targets.numpy(), val_records)
    test_m = metrics(predict(model, test), test.targets.numpy(), test_records)
    onnx_path = os.path.join(WEIGHTS, f"{name}.onnx")
    export_onnx(model, onnx_path, args.size)
    add_metadata(
        onnx_path, {"labels": fs.LABELS, "mean": norm[0], "std": norm[1], "inputSize": [args.size, args.size]}
    )
    check = check_onnx(onnx_path, model, test, args.size)
    layer = cam_layer(onnx.load(onnx_path))
    sidecar = {
        "name": name,
        "model": f"{name}.onnx",
        "labels": fs.LABELS,
        "inputSize": [args.size, args.size],
        "layout": "NCHW",
        "input": "input",
        "output": "logits",
        "preprocess": "RGB, x = pixel / 255, then (x - mean[c]) / std[c] per channel",
        "mean": norm[0],
        "std": norm[1],
        "outputKind": "multi-label logits: sigmoid(logit) is each class's probability",
        "layer": layer,
        "cam": name == "fashion_cam",
        "architecture": describe(name),
        "parameters": params,
        "macsPerImage": check["macs"],
        "onnx": {"opset": 13, "ops": check["ops"], "bytes": os.path.getsize(onnx_path),
                 "maxAbsDiffVsTorch": check["maxAbsDiffVsTorch"]},
        "training": {
            "script": VERSION,
            "data": {
                "generator": fs.VERSION,
                "train": len(train),
                "val": len(val),
                "test": len(test),
                "generateSeconds": data_times,
            },
            "epochs": args.epochs,
            "bestEpoch": best[2],
            "batch": args.batch,
            "optimizer": f"AdamW(lr={args.lr}, weight_decay={args.weight_decay}), OneCycleLR(pct_start=0.15)",
            "loss": "BCEWithLogits (multi-label)",
            "augmentation": "random horizontal flip",
            "seed": args.seed,
            "threads": torch.get_num_threads(),
            "command": " ".join(["/usr/bin/python3", "tools/train.py"] + sys.argv[1:]),
            "seconds": round(train_seconds, 1),
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": args.note,
            "history": history,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        },
        "metrics": {"val": val_m, "test": test_m},
    }
    with open(os.path.join(WEIGHTS, f"{name}.json"), "w") as f:
        json.dump(sidecar, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{name}: test mAP {test_m['mAP']}, val mAP {val_m['mAP']}, {train_seconds:.0f} s", flush=True)
    return sidecar


# ----------------------------------------------------------------------------------------------
# Model card
# ----------------------------------------------------------------------------------------------


def write_card():
    cars = []
    for name in MODELS:
        p = os.path.join(WEIGHTS, f"{name}.json")
        if os.path.exists(p):
            with open(p) as f:
                cars.append(json.load(f))
    if not cars:
        raise SystemExit("no weights/<model>.json sidecar to render a model card from")
    L = []
    w = L.append
    t0 = cars[0]["training"]
    w("# Model card: fashion_cam and fashion_deep\n")
    w("Two small CNN classifiers trained here, from scratch, on synthetic *fashion scenes*, so that the")
    w("project can ship real models (no pretrained weights can be downloaded). They exist to be explained:")
    w("`fashion_cam` has the GAP → linear head that CAM needs; `fashion_deep` has layers after the last")
    w("conv, so CAM does not apply to it and Grad-CAM does. This file is written by `tools/train.py`")
    w("from the sidecars `weights/<model>.json`; every number below was measured by that script.\n")
    w("## Data\n")
    d = t0["data"]
    k = fs.SceneConfig()  # train.py always trains on the default scene settings
    w(f"Fashion scenes (`tools/fashion_scenes.py`, {d['generator']}; format in `tools/README.md`): {k.size}×{k.size} RGB")
    w(f"canvases, each with {k.min_items}–{k.max_items} Fashion-MNIST items (Debian `dataset-fashion-mnist`) scaled to a")
    w(f"{k.item_min:g}–{k.item_max:g} px square, tinted, and placed on a textured background (plain, gradient, stripes,")
    w(f"checker, colour noise); {k.repeat_prob:.0%} of multi-item scenes repeat a class; {k.occlusion_prob:.0%} of scenes")
    w(f"allow partial occlusion (each item keeps ≥ {k.occluded_min_visible:.0%} of its pixels visible, otherwise")
    w(f"≥ {k.min_visible:.0%}). Labels: multi-label over the 10 Fashion-MNIST classes.\n")
    w("| split | scenes | source images | scene seed |")
    w("|---|---|---|---|")
    counts = {"train": d["train"], "val": d["val"], "test": d["test"]}
    for s, info in fs.SPLITS.items():
        r = info["range"]
        w(f"| {s} | {counts[s]} | Fashion-MNIST {info['part']} [{r[0]}, {r[1]}) | {info['seed']} |")
    w("")
    gs = d.get("generateSeconds") or {}
    if any(gs.values()):
        w("Generating the splits took " + ", ".join(f"{k} {v:.0f} s" for k, v in gs.items()) + ".\n")
    w("## Models\n")
    w("| model | architecture | parameters | MACs / image | ONNX bytes | CAM layer |")
    w("|---|---|---|---|---|---|")
    for c in cars:
        w(
            f"| `{c['name']}` | {c['architecture']} | {c['parameters']:,} | {c['macsPerImage'] / 1e6:.1f} M |"
            f" {c['onnx']['bytes']:,} | `{c['layer']}` |"
        )
    w("")
    w("ONNX: opset 13, input `input` [1, 3, 96, 96] float32, output `logits` [1, 10]. Operators: "
      + ", ".join(f"`{o}`" for o in cars[0]["onnx"]["ops"])
      + ". BatchNormalization is exported as is (not folded). Preprocessing: RGB, `x = pixel / 255`, then")
    w("`(x − mean) / std` per channel with the sidecar's `mean`/`std` (the training set's statistics):")
    w(f"mean {cars[0]['mean']}, std {cars[0]['std']}. The logits are multi-label: `sigmoid(logit)` per class.")
    w("Labels, mean, std and inputSize are in the sidecar `weights/<model>.json` and in the ONNX file's")
    w("`metadata_props` (JSON text).")
    w("Each export is checked: `onnx.checker`, the operator set, and logits recomputed from the ONNX file")
    w("by a numpy interpreter (float64) against PyTorch's: largest difference "
      + ", ".join(f"{c['onnx']['maxAbsDiffVsTorch']:.2g} (`{c['name']}`)" for c in cars) + ".\n")
    w("## Training\n")
    w("| model | epochs (best) | batch | optimizer | augmentation | threads | wall time |")
    w("|---|---|---|---|---|---|---|")
    for c in cars:
        t = c["training"]
        w(
            f"| `{c['name']}` | {t['epochs']} ({t['bestEpoch']}) | {t['batch']} | {t['optimizer']} | {t['augmentation']} |"
            f" {t['threads']} | {t['seconds'] / 60:.1f} min |"
        )
    w("")
    w(f"Loss: {t0['loss']}. The checkpoint with the best validation mAP is exported. Machine: {t0['machine']}.")
    w("Times are wall-clock (the training loop, without data generation and export) and depend on what")
    w("else the machine was running; the runs went from "
      + "; ".join(f"`{c['name']}` {c['training'].get('started', '?')} to {c['training'].get('finished', '?')}" for c in cars)
      + " (UTC).")
    for c in cars:
        if c["training"].get("note"):
            w(f"`{c['name']}`: {c['training']['note']}")
    w("")
    for c in cars:
        w(f"`{c['name']}` per epoch:\n")
        w("| epoch | train loss | val loss | val mAP | seconds |")
        w("|---|---|---|---|---|")
        for h in c["training"]["history"]:
            w(f"| {h['epoch']} | {h['trainLoss']} | {h['valLoss']} | {h['valMAP']} | {h['seconds']} |")
        w("")
    w("## Results on the test split\n")
    n = cars[0]["metrics"]["test"]["scenes"]
    w(f"{n} test scenes (source images never seen in training). mAP = mean over classes of the")
    w("non-interpolated average precision (precision averaged at the rank of each positive). Exact match:")
    w("every class decided right at logit > 0. Single-item top-1: the arg-max class on scenes with one item.\n")
    head = "| | " + " | ".join(f"`{c['name']}`" for c in cars) + " |"
    w(head)
    w("|---" * (len(cars) + 1) + "|")
    for key, label in [("mAP", "test mAP"), ("exactMatch", "exact match"), ("singleItemTop1", "single-item top-1")]:
        w(f"| {label} | " + " | ".join(f"{c['metrics']['test'][key]:.4f}" for c in cars) + " |")
    w("| val mAP | " + " | ".join(f"{c['metrics']['val']['mAP']:.4f}" for c in cars) + " |")
    for label in fs.LABELS:
        w(f"| AP {label} | " + " | ".join(f"{c['metrics']['test']['AP'][label]:.4f}" for c in cars) + " |")
    w("")
    w("## Limits\n")
    w("- Synthetic data only: small grey-level Fashion-MNIST shapes, tinted, on synthetic textures. The")
    w("  models know nothing about photographs.")
    for c in cars:
        ap = c["metrics"]["test"]["AP"]
        low = sorted(ap, key=ap.get)[:4]
        w(f"- `{c['name']}`: lowest test APs " + ", ".join(f"{k} {ap[k]:.3f}" for k in low) + ".")
    w("  (T-shirt/top, Pullover, Coat and Shirt are the classes that are hard to tell apart even in")
    w("  plain Fashion-MNIST.)")
    w("")
    w("## Reproduce\n")
    w("```sh")
    w("sudo apt-get install python3-torch python3-torchvision python3-onnx python3-numpy python3-pil \\")
    w("  python3-tqdm dataset-fashion-mnist")
    w("# the commands that produced the shipped files (data/fashion-scenes/ is written when missing):")
    for c in cars:
        w(c["training"].get("command", "/usr/bin/python3 tools/train.py"))
    w("/usr/bin/python3 tools/train.py --card-only   # this file")
    w("```\n")
    w("The splits are deterministic from their seeds; training is seeded (`--seed`), but PyTorch's CPU")
    w("kernels and thread scheduling can change the last digits of the results between machines.")
    w("The same test split (first 500+ scenes) is what `npm run eval` reads; write it alone with")
    w("`/usr/bin/python3 tools/fashion_scenes.py split --split test --count 1000`.")
    with open(os.path.join(WEIGHTS, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(L) + "\n")


DEFAULTS = {"epochs": 5}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=MODELS + ["all"], default="all")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-count", type=int, default=40000)
    p.add_argument("--val-count", type=int, default=2000)
    p.add_argument("--test-count", type=int, default=1000)
    p.add_argument("--data", default=os.path.join(DATA, "fashion-scenes"))
    p.add_argument("--note", default="", help="a remark on the run, kept in the sidecar and the model card")
    p.add_argument("--card-only", action="store_true", help="only rewrite weights/MODEL_CARD.md")
    a = p.parse_args(argv)
    a.size = 96
    if a.card_only:
        write_card()
        return 0
    torch.set_num_threads(a.threads)
    os.makedirs(WEIGHTS, exist_ok=True)

    times = {}
    (tr_img, _, tr_meta), times["train"] = ensure_split("train", a.train_count, a.data)
    (va_img, _, va_meta), times["val"] = ensure_split("val", a.val_count, a.data)
    (te_img, _, te_meta), times["test"] = ensure_split("test", a.test_count, a.data)
    times = {k: round(v, 1) for k, v in times.items()}
    norm = channel_stats(tr_img)
    print(f"data: train {len(tr_img)}, val {len(va_img)}, test {len(te_img)}; mean {norm[0]} std {norm[1]}", flush=True)
    train = Batches(tr_img, fs.multi_hot(tr_meta["scenes"]), *norm)
    val = Batches(va_img, fs.multi_hot(va_meta["scenes"]), *norm)
    test = Batches(te_img, fs.multi_hot(te_meta["scenes"]), *norm)

    for name in MODELS if a.model == "all" else [a.model]:
        train_one(name, a, train, val, va_meta["scenes"], test, te_meta["scenes"], norm, times)
    write_card()
    return 0


if __name__ == "__main__":
    sys.exit(main())
