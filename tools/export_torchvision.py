#!/usr/bin/python3
"""torchvision architectures exported to ONNX, with PyTorch's logits and Grad-CAM as the oracle.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-onnx):

    /usr/bin/python3 tools/export_torchvision.py [OUT_DIR]     (default: test/.cache/onnx)

test/model/onnx.test.ts runs it when its outputs are missing or were written by another version
of this file. For each model it writes OUT_DIR/<name>.onnx and OUT_DIR/<name>.json, and at the end
OUT_DIR/manifest.json (the SHA-256 of this script and the model names). See tools/README.md.

Weights are random (no pretrained weights can be downloaded here), drawn with a fixed seed, and
every BatchNorm gets random running statistics and affine parameters, so that folding BN into
the conv before it is exercised with non-trivial values. Models are exported in eval mode.

The oracle runs the same float32 weights widened to float64:
  logits   y = model(x)
  Grad-CAM at a module's output A (the "layer") for one target class c, per docs/METHODS.md:
           g = dy_c/dA,  alpha_k = (1/Z) sum_ij g_kij,  map = ReLU(sum_k alpha_k A_k),
           map_norm = (map - min)/(max - min)  (a constant map -> zeros)

The layer is named by its torchvision module path (e.g. 'layer4'). torch >= 1.13 names every
ONNX node after the module scope it was traced in ('/layer4/layer4.1/relu_1/Relu'), so the
module's output is the output of the last node (in graph order) inside the scope
'/layer4/'; the script records that tensor name, and checks that the node's output has the
shape of the module's output.
"""

import hashlib
import io
import json
import os
import sys
import time

import onnx
import torch
import torch.nn as nn
import torchvision

SCRIPT_VERSION = "export_torchvision.py 1.0.0"
SEED = 20240612
DIGITS = 9
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "test", ".cache", "onnx")

# ImageNet normalisation, for pixels in [0, 1] (torchvision's convention); written as metadata.
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def vgg11_small():
    """vgg11's 'features' unchanged (8 convs, 5 max-pools); a reduced classifier.

    torchvision's classifier (adaptive pool to 7x7, 25088 -> 4096 -> 4096 -> 1000) would be
    about 500 MB of weights, and adaptive pooling from 2x2 up to 7x7 has no ONNX export, so the
    pool is dropped and the classifier is 2048 -> 256 -> 256 -> 10 with the same layer pattern
    (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear).
    """
    m = torchvision.models.vgg11(weights=None, num_classes=10)
    m.avgpool = nn.Identity()
    m.classifier = nn.Sequential(
        nn.Linear(512 * 2 * 2, 256),
        nn.ReLU(True),
        nn.Dropout(),
        nn.Linear(256, 256),
        nn.ReLU(True),
        nn.Dropout(),
        nn.Linear(256, 10),
    )
    return m


# name, builder, input [C, H, W], opset, layer (module path), export options:
#   bn:      'keep' exports BatchNormalization nodes (TrainingMode.PRESERVE on an eval model);
#            'fold' lets the exporter fold them into the convs (its default in eval mode)
#   batch:   'dynamic' marks the batch dim symbolic; 'static' leaves it 1
#   softmax: append nn.Softmax(dim=1), so the ONNX graph ends in Softmax
#   labels:  'metadata' writes labels/mean/std into metadata_props; 'sidecar' into <name>.labels.json
MODELS = [
    dict(
        name="resnet18",
        build=lambda: torchvision.models.resnet18(weights=None),
        input=[3, 64, 64],
        opset=11,
        layer="layer4",
        bn="keep",
        batch="static",
        softmax=False,
        labels="metadata",
    ),
    dict(
        name="vgg11",
        build=vgg11_small,
        input=[3, 64, 64],
        opset=12,
        layer="features.19",
        bn="fold",
        batch="dynamic",
        softmax=True,
        labels="sidecar",
    ),
    dict(
        name="mobilenet_v2",
        build=lambda: torchvision.models.mobilenet_v2(weights=None),
        input=[3, 96, 96],
        opset=13,
        layer="features.18",
        bn="keep",
        batch="dynamic",
        softmax=False,
        labels="none",
    ),
    dict(
        name="squeezenet1_1",
        build=lambda: torchvision.models.squeezenet1_1(weights=None),
        input=[3, 64, 64],
        opset=13,
        layer="features.12",
        bn="fold",
        batch="dynamic",
        softmax=False,
        labels="none",
    ),
]


def rnd(v):
    return float(f"{v:.{DIGITS}g}")


def tensor_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [rnd(v) for v in t.reshape(-1).tolist()]}


def randomise_batchnorm(model, gen):
    """Random running statistics and affine parameters for every BatchNorm (float32)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)


def unqualified(path):
    """torch.onnx's scope component for a module path: from its last non-numeric atom on
    ('0.features.19' -> 'features.19', 'layer4.1' -> 'layer4.1', '0' -> '0')."""
    atoms = path.split(".")
    for i in range(len(atoms) - 1, -1, -1):
        if not atoms[i].isnumeric():
            return ".".join(atoms[i:])
    return path


def scope_prefix(module_path, wrapped):
    """The ONNX node-name prefix of a module's scope: 'layer4' -> '/layer4/',
    'features.18' -> '/features/features.18/' (and '/0/features/features.18/' when the model is
    child '0' of an nn.Sequential(model, Softmax))."""
    atoms = (["0"] if wrapped else []) + module_path.split(".")
    paths = [".".join(atoms[: i + 1]) for i in range(len(atoms))]
    return "/" + "/".join(unqualified(p) for p in paths) + "/"


def layer_tensor(graph, prefix):
    last = None
    for n in graph.node:
        if n.name.startswith(prefix):
            last = n
    if last is None:
        raise SystemExit(f"no ONNX node in scope {prefix}")
    return last.output[0]


def grad_cam(model, layer_module, x, target):
    """Grad-CAM at layer_module's output for class `target` (float64, batch of 1)."""
    saved = {}

    def hook(_m, _inp, out):
        out.retain_grad()
        saved["A"] = out

    h = layer_module.register_forward_hook(hook)
    try:
        scores = model(x)
    finally:
        h.remove()
    scores[0, target].backward()
    A = saved["A"][0]
    g = saved["A"].grad[0]
    alpha = g.mean(dim=(1, 2))
    cam = torch.relu((alpha[:, None, None] * A).sum(0))
    lo, hi = cam.min(), cam.max()
    norm = (cam - lo) / (hi - lo) if hi > lo else torch.zeros_like(cam)
    return A, g, alpha, cam, norm


def export_one(cfg, out_dir, gen):
    t0 = time.time()
    name = cfg["name"]
    model = cfg["build"]().eval()
    randomise_batchnorm(model, gen)
    net = nn.Sequential(model, nn.Softmax(dim=1)).eval() if cfg["softmax"] else model
    x = torch.randn([1] + cfg["input"], generator=gen)

    onnx_path = os.path.join(out_dir, f"{name}.onnx")
    buf = io.BytesIO()
    kwargs = dict(
        opset_version=cfg["opset"],
        input_names=["input"],
        output_names=["output"],
        do_constant_folding=True,
    )
    if cfg["bn"] == "keep":
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    if cfg["batch"] == "dynamic":
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(net, x, buf, **kwargs)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    ops = {}
    for n in proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    has_bn = "BatchNormalization" in ops
    if has_bn != (cfg["bn"] == "keep"):
        raise SystemExit(f"{name}: expected BatchNormalization nodes: {cfg['bn'] == 'keep'}, ops {sorted(ops)}")

    labels = [f"{name} class {i}" for i in range(model(x).shape[1])]
    if cfg["labels"] == "metadata":
        for k, v in [("labels", labels), ("mean", MEAN), ("std", STD)]:
            p = proto.metadata_props.add()
            p.key = k
            p.value = json.dumps(v)
    elif cfg["labels"] == "sidecar":
        with open(os.path.join(out_dir, f"{name}.labels.json"), "w") as f:
            json.dump({"labels": labels, "mean": MEAN, "std": STD}, f, indent=1)
    onnx.save(proto, onnx_path)

    # The layer's tensor in the ONNX graph, and its shape per ONNX shape inference.
    prefix = scope_prefix(cfg["layer"], cfg["softmax"])
    tensor = layer_tensor(proto.graph, prefix)
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {
        vi.name: [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim]
        for vi in inferred.graph.value_info
    }

    # The oracle: float64 copies of the float32 weights.
    net64 = net.double()
    model64 = net64[0] if cfg["softmax"] else net64
    layer_module = model64.get_submodule(cfg["layer"])
    x64 = x.double()
    with torch.no_grad():
        scores = model64(x64)
        output = net64(x64)
    order = torch.argsort(scores[0], descending=True).tolist()
    target, cam = None, None
    for c in order[:10]:  # the highest-scoring class whose Grad-CAM map is not constant
        cam = grad_cam(model64, layer_module, x64.clone().requires_grad_(True), c)
        if cam[3].max() > cam[3].min():
            target = c
            break
    if target is None:
        raise SystemExit(f"{name}: no class among the top 10 has a non-constant Grad-CAM map")
    A, g, alpha, raw, norm = cam
    if tensor in shapes and shapes[tensor][1:] != list(A.shape):
        raise SystemExit(f"{name}: tensor {tensor} has shape {shapes[tensor]}, module output {list(A.shape)}")

    doc = {
        "version": f"{SCRIPT_VERSION}; torch {torch.__version__}; torchvision {torchvision.__version__}; "
        f"onnx {onnx.__version__}",
        "name": name,
        "opset": cfg["opset"],
        "ops": ops,  # op type -> count of nodes
        "batch": cfg["batch"],
        "labels": cfg["labels"],
        "softmax": cfg["softmax"],
        "input": tensor_json(x),
        "layer": {"module": cfg["layer"], "tensor": tensor},
        "target": target,
        "expected": {
            "scores": tensor_json(scores),
            "output": tensor_json(output),
            "activation": tensor_json(A),
            "gradients": tensor_json(g),
            "gradcam": {"weights": tensor_json(alpha), "map": tensor_json(raw), "map_norm": tensor_json(norm)},
        },
    }
    if cfg["labels"] != "none":
        doc["expected"]["labels"] = labels
        doc["expected"]["mean"] = MEAN
        doc["expected"]["std"] = STD
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(doc, f)
    size = os.path.getsize(onnx_path) / 1e6
    print(
        f"export_torchvision: {name}: {size:.1f} MB, opset {cfg['opset']}, layer {cfg['layer']} = '{tensor}' "
        f"{list(A.shape)}, target {target} ({time.time() - t0:.1f} s)",
        flush=True,
    )


def main():
    out_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
    os.makedirs(out_dir, exist_ok=True)
    manifest = os.path.join(out_dir, "manifest.json")
    if os.path.exists(manifest):
        os.remove(manifest)  # written last: its presence means every file is complete
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    print(f"export_torchvision: writing {len(MODELS)} models to {out_dir}", flush=True)
    for i, cfg in enumerate(MODELS):
        print(f"export_torchvision: [{i + 1}/{len(MODELS)}] {cfg['name']} ...", flush=True)
        export_one(cfg, out_dir, gen)
    with open(os.path.abspath(__file__), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(manifest, "w") as f:
        json.dump({"script_sha256": digest, "version": SCRIPT_VERSION, "models": [m["name"] for m in MODELS]}, f)


if __name__ == "__main__":
    main()
