#!/usr/bin/python3
"""The torchvision classification zoo exported to ONNX, with PyTorch's results as the oracle.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-onnx):

    /usr/bin/python3 tools/export_torchvision.py [OUT_DIR] [--only NAME,...]   (default: test/.cache/onnx)

test/model/onnx.test.ts runs it when its outputs are missing or were written by another version
of this file. For each model it writes OUT_DIR/<name>.onnx and OUT_DIR/<name>.json, and at the end
OUT_DIR/manifest.json (the SHA-256 of this script and the model names). `--only` exports a subset
and writes no manifest (for trying a model out). See tools/README.md.

Every classification family of torchvision 0.14, one architecture each (two for ConvNeXt: opset
13 and 17). Weights are random (no pretrained weights can be downloaded here), drawn with a seed
of the model's own (SEED and its name); every BatchNorm gets random affine parameters and
running statistics (those of a batch of random inputs, perturbed at random: see
randomise_norms), every LayerNorm random affine parameters, so that folding is exercised with
non-trivial values and the signal neither vanishes nor explodes with depth. Models are exported
in eval mode. Inputs are small (64 to 107 pixels) so that a software adapter runs the whole zoo
in about a minute; architecture changes that this forces (alexnet's and vgg's adaptive pool)
are listed in each model's `changes`. The input is redrawn until no max-pool window is a
near-tie (maxpool_margin), so that a float32 engine routes every max-pool gradient where the
oracle does.

The oracle runs the same float32 weights widened to float64, in PyTorch autograd, per
docs/METHODS.md (the formulas: tools/cam_formulas.py, shared with make_fixtures.py):
  logits     y = model(x)
  Grad-CAM   at a module's output A (the "layer") for one target class c:
             g = dy_c/dA,  alpha_k = (1/Z) sum_ij g_kij,  map = ReLU(sum_k alpha_k A_k),
             map_norm = (map - min)/(max - min)  (a constant map -> zeros)
  Grad-CAM++ w_k = sum_ij a_kij ReLU(g_kij),  a = g^2 / (2 g^2 + (sum_ab A_kab) g^3)  (0 where
             the denominator is 0),  map = ReLU(sum_k w_k A_k)
  guided backprop  dy_c/dx where the backward of every ReLU-like gate (ReLU, ReLU6 / hardtanh,
             LeakyReLU, ELU, Hardswish, SiLU, GELU) is (its ordinary local derivative) * R_out *
             [R_out > 0]; Sigmoid, Hardsigmoid and Tanh (squeeze-excitation gates) keep their
             plain gradient. Implemented by replacing torch.nn.functional's gate functions
             (which torch.nn's modules and torchvision's functional calls both go through) with
             autograd Functions for the guided run; checked on a hand case, and on resnet18
             against backward hooks on its ReLU modules.

The layer is named by its torchvision module path (e.g. 'layer4'). torch >= 1.13 names every
ONNX node after the module scope it was traced in ('/layer4/layer4.1/relu_1/Relu'), so the
module's output is the output of the last node (in graph order) inside the scope
'/layer4/'; the script records that tensor name, and checks that ONNX shape inference gives it
the shape of the module's output.
"""

import hashlib
import io
import json
import math
import os
import sys
import time
import zlib

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from cam_formulas import combine, gradcam_weights, gradcampp_weights, normalise

SCRIPT_VERSION = "export_torchvision.py 2.0.0"
SEED = 20240612
DIGITS = 9
# A max-pool window's two largest values must differ by at least MIN_GAP of the pooled tensor's
# largest |value|, ten times a float32 forward pass's error there; MAX_DRAWS inputs are tried.
MIN_GAP = 1e-6
MAX_DRAWS = 30
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "test", ".cache", "onnx")
TV = torchvision.models

# ImageNet normalisation, for pixels in [0, 1] (torchvision's convention); written as metadata.
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# ----------------------------------------------------------------------------------------------
# Builders that change an architecture (each change is stated in the model's `changes`)
# ----------------------------------------------------------------------------------------------


def alexnet_small():
    """alexnet's 'features' unchanged; the adaptive pool dropped and a reduced classifier.

    At 96x96 the features end at 256x2x2; AdaptiveAvgPool2d((6, 6)) from 2x2 has no ONNX export
    (the output size is not a factor of the input size), and the classifier 9216 -> 4096 -> 4096
    -> 1000 would be 230 MB of weights.
    """
    m = TV.alexnet(weights=None, num_classes=10)
    m.avgpool = nn.Identity()
    m.classifier = nn.Sequential(
        nn.Dropout(),
        nn.Linear(256 * 2 * 2, 256),
        nn.ReLU(True),
        nn.Dropout(),
        nn.Linear(256, 256),
        nn.ReLU(True),
        nn.Linear(256, 10),
    )
    return m


ALEXNET_CHANGES = (
    "avgpool AdaptiveAvgPool2d((6, 6)) replaced by Identity (from a 2×2 feature map it has no ONNX export); "
    "classifier 9216→4096→4096→1000 reduced to 1024→256→256→10 with the same layer pattern "
    "(Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear)"
)


def vgg11_bn_small():
    """vgg11_bn's 'features' unchanged (8 conv-BN-ReLU, 5 max-pools); a reduced classifier.

    torchvision's classifier (adaptive pool to 7x7, 25088 -> 4096 -> 4096 -> 1000) would be
    about 500 MB of weights, and adaptive pooling from 2x2 up to 7x7 has no ONNX export, so the
    pool is dropped and the classifier is 2048 -> 256 -> 256 -> 10 with the same layer pattern
    (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear).
    """
    m = TV.vgg11_bn(weights=None, num_classes=10)
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


VGG_CHANGES = (
    "avgpool AdaptiveAvgPool2d((7, 7)) replaced by Identity (from a 2×2 feature map it has no ONNX export); "
    "classifier 25088→4096→4096→1000 reduced to 2048→256→256→10 with the same layer pattern "
    "(Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear)"
)
TEN = "num_classes=10"
NO_AUX = "num_classes=10; aux_logits=False (the auxiliary heads run only in training mode)"
CONVNEXT = "num_classes=10; layer_scale drawn from U(0.1, 0.6) instead of 1e-6 (so the residual branches matter)"

# ----------------------------------------------------------------------------------------------
# The zoo
# ----------------------------------------------------------------------------------------------


def zoo(name, build, size, layer, changes=TEN, opset=13, bn="fold", batch="dynamic", softmax=False, labels="none"):
    """One entry. size: the input's height and width (3 channels). Export options:
    bn:      'keep' exports BatchNormalization nodes (TrainingMode.PRESERVE on an eval model);
             'fold' lets the exporter fold those that follow a conv (its default in eval mode;
             a BatchNorm after anything else stays a BatchNormalization node either way)
    batch:   'dynamic' marks the batch dim symbolic; 'static' leaves it 1
    softmax: append nn.Softmax(dim=1), so the ONNX graph ends in Softmax
    labels:  'metadata' writes labels/mean/std into metadata_props; 'sidecar' into
             <name>.labels.json; 'none' neither
    """
    return dict(
        name=name,
        build=build,
        input=[3, size, size],
        layer=layer,
        changes=changes,
        opset=opset,
        bn=bn,
        batch=batch,
        softmax=softmax,
        labels=labels,
    )


# The layer: the customary Grad-CAM layer, the last spatial activation before the spatial
# collapse (trailing pools skipped), by module path.
MODELS = [
    zoo("resnet18", lambda: TV.resnet18(weights=None), 64, "layer4", changes="", opset=11, bn="keep",
        batch="static", labels="metadata"),
    zoo("alexnet", alexnet_small, 96, "features.11", changes=ALEXNET_CHANGES),
    zoo("vgg11_bn", vgg11_bn_small, 64, "features.27", changes=VGG_CHANGES, opset=12, softmax=True,
        labels="sidecar"),
    zoo("resnet50", lambda: TV.resnet50(weights=None, num_classes=10), 64, "layer4"),
    zoo("resnext50_32x4d", lambda: TV.resnext50_32x4d(weights=None, num_classes=10), 64, "layer4", bn="keep"),
    zoo("wide_resnet50_2", lambda: TV.wide_resnet50_2(weights=None, num_classes=10), 64, "layer4"),
    zoo("squeezenet1_0", lambda: TV.squeezenet1_0(weights=None, num_classes=10), 64, "features.12"),
    # 'features' ends in norm5 (BatchNorm); DenseNet.forward applies F.relu after it. The layer
    # is the module's output (norm5, before that ReLU): what a module hook sees and the layer
    # Grad-CAM implementations use for densenets (features[-1]).
    zoo("densenet121", lambda: TV.densenet121(weights=None, num_classes=10), 64, "features"),
    zoo("googlenet", lambda: TV.googlenet(weights=None, num_classes=10, aux_logits=False, init_weights=True),
        64, "inception5b", changes=NO_AUX),
    # 107 is the smallest input at which Mixed_7c is 2x2 (at 75..106 it is 1x1: no map).
    zoo("inception_v3", lambda: TV.inception_v3(weights=None, num_classes=10, aux_logits=False,
                                                init_weights=True), 107, "Mixed_7c", changes=NO_AUX),
    zoo("shufflenet_v2_x1_0", lambda: TV.shufflenet_v2_x1_0(weights=None, num_classes=10), 64, "conv5"),
    zoo("mobilenet_v2", lambda: TV.mobilenet_v2(weights=None, num_classes=10), 96, "features.18", bn="keep"),
    # opset 14: Hardswish exports as HardSwish (at 13 as HardSigmoid and Mul: mobilenet_v3_large)
    zoo("mobilenet_v3_small", lambda: TV.mobilenet_v3_small(weights=None, num_classes=10), 64, "features.12",
        opset=14),
    zoo("mobilenet_v3_large", lambda: TV.mobilenet_v3_large(weights=None, num_classes=10), 64, "features.16"),
    zoo("mnasnet1_0", lambda: TV.mnasnet1_0(weights=None, num_classes=10), 64, "layers.16"),
    zoo("efficientnet_b0", lambda: TV.efficientnet_b0(weights=None, num_classes=10), 64, "features.8"),
    zoo("efficientnet_v2_s", lambda: TV.efficientnet_v2_s(weights=None, num_classes=10), 64, "features.7"),
    zoo("regnet_y_400mf", lambda: TV.regnet_y_400mf(weights=None, num_classes=10), 64, "trunk_output.block4"),
    # opset 13: LayerNorm exports decomposed (ReduceMean, Sub, Pow, Sqrt, Div); 17: LayerNormalization
    zoo("convnext_tiny", lambda: TV.convnext_tiny(weights=None, num_classes=10), 64, "features.7",
        changes=CONVNEXT),
    zoo("convnext_tiny_opset17", lambda: TV.convnext_tiny(weights=None, num_classes=10), 64, "features.7",
        changes=CONVNEXT, opset=17),
]

# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def rnd(v):
    v = float(v)
    if not math.isfinite(v):
        raise SystemExit(f"non-finite value {v} in the oracle's results")
    return float(f"{v:.{DIGITS}g}")


def tensor_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [rnd(v) for v in t.reshape(-1).tolist()]}


def model_seed(name):
    """A seed of the model's own: adding, removing or reordering models changes no other."""
    return SEED + zlib.crc32(name.encode())


def randomise_norms(model, input_shape, gen):
    """Random affine parameters for every BatchNorm and LayerNorm, random ConvNeXt layer
    scales, then random running statistics for every BatchNorm (float32).

    The running statistics are those of a batch of random inputs (each BatchNorm in training
    mode for one forward pass, the rest of the model in eval mode), then perturbed at random
    (mean + 0.1 std N(0, 1), variance x U(0.7, 1.4)). Statistics drawn without regard to the
    activations (as in version 1 of this script) let the signal vanish or explode with depth:
    most of the zoo's logits then hardly depended on the input (googlenet's by 1e-8), which
    tests little and makes near-ties in max-pool windows common.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
            elif isinstance(m, torchvision.models.convnext.CNBlock):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=gen) * 0.5 + 0.1)
        if not bns:
            return
        model.eval()
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one batch, that batch's statistics
            m.train()
        model(torch.randn([8] + input_shape, generator=gen))
        model.eval()
        for m in bns:
            m.momentum = 0.1
            c = m.num_features
            m.running_mean.add_(torch.randn(c, generator=gen) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(c, generator=gen) * 0.7 + 0.7)


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


def unfoldable_batchnorms(graph):
    """BatchNormalization nodes that cannot fold into a conv: their input is not a Conv's output
    read by nothing else. The importer makes each an affine node (a depthwise 1x1 conv)."""
    producer = {o: n for n in graph.node for o in n.output}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    count = 0
    for n in graph.node:
        if n.op_type == "BatchNormalization":
            p = producer.get(n.input[0])
            if p is None or p.op_type != "Conv" or readers[n.input[0]] != 1:
                count += 1
    return count


# ----------------------------------------------------------------------------------------------
# Guided backprop: torch.nn.functional's gates with the guided backward
# ----------------------------------------------------------------------------------------------


class GuidedGate(torch.autograd.Function):
    """y = f(x); backward: R_in = f'(x) * R_out * [R_out > 0], f' the ordinary local derivative
    (autograd's own, through f on a detached copy of x)."""

    @staticmethod
    def forward(ctx, x, f):
        ctx.f = f
        ctx.save_for_backward(x)
        return f(x)

    @staticmethod
    def backward(ctx, r_out):
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            xd = x.detach().requires_grad_(True)
            y = ctx.f(xd)
        (r_in,) = torch.autograd.grad(y, xd, r_out * (r_out > 0).to(r_out.dtype))
        return r_in, None


# The gates, with the parameters each takes besides the tensor (inplace is dropped: the guided
# function returns a new tensor, which every caller uses).
GATES = {
    "relu": lambda f: lambda x, inplace=False: GuidedGate.apply(x, f),
    "relu6": lambda f: lambda x, inplace=False: GuidedGate.apply(x, f),
    "hardtanh": lambda f: lambda x, min_val=-1.0, max_val=1.0, inplace=False: GuidedGate.apply(
        x, lambda t: f(t, min_val, max_val)
    ),
    "leaky_relu": lambda f: lambda x, negative_slope=0.01, inplace=False: GuidedGate.apply(
        x, lambda t: f(t, negative_slope)
    ),
    "elu": lambda f: lambda x, alpha=1.0, inplace=False: GuidedGate.apply(x, lambda t: f(t, alpha)),
    "hardswish": lambda f: lambda x, inplace=False: GuidedGate.apply(x, f),
    "silu": lambda f: lambda x, inplace=False: GuidedGate.apply(x, f),
    "gelu": lambda f: lambda x, approximate="none": GuidedGate.apply(x, lambda t: f(t, approximate=approximate)),
}


class guided_gates:
    """Context manager: inside it, torch.nn.functional's gates take the guided backward.
    `calls` counts the gate calls by function name."""

    def __enter__(self):
        self.saved = {k: getattr(F, k) for k in GATES}
        self.calls = {}
        for k, wrap in GATES.items():
            guided = wrap(self.saved[k])

            def counted(*args, _k=k, _g=guided, **kwargs):
                self.calls[_k] = self.calls.get(_k, 0) + 1
                return _g(*args, **kwargs)

            setattr(F, k, counted)
        return self

    def __exit__(self, *exc):
        for k, f in self.saved.items():
            setattr(F, k, f)
        return False


def check_guided_by_hand():
    """The guided backward of each gate on chosen points equals f'(x) * R * [R > 0] with f'
    written out by hand; Sigmoid and Hardsigmoid keep their plain gradient; and through two
    layers the [R > 0] test applies at each gate (the case of tools/make_fixtures.py)."""
    x = torch.tensor([-4.0, -1.5, -0.5, 0.5, 1.5, 4.0, 7.0], dtype=torch.float64)
    r = torch.tensor([1.0, -1.0, 2.0, -2.0, 3.0, 0.5, 1.5], dtype=torch.float64)
    phi = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    sig = 1 / (1 + torch.exp(-x))
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    derivative = {
        "relu": (lambda t: F.relu(t), torch.where(x > 0, one, zero)),
        "relu6": (lambda t: F.relu6(t), torch.where((x > 0) & (x < 6), one, zero)),
        "hardtanh": (lambda t: F.hardtanh(t, 0.0, 6.0), torch.where((x > 0) & (x < 6), one, zero)),
        "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), torch.where(x > 0, one, 0.1 * one)),
        "elu": (lambda t: F.elu(t, 0.7), torch.where(x > 0, one, 0.7 * torch.exp(x))),
        "hardswish": (lambda t: F.hardswish(t), torch.where(x < -3, zero, torch.where(x > 3, one, x / 3 + 0.5))),
        "silu": (lambda t: F.silu(t), sig * (1 + x * (1 - sig))),
        "gelu": (lambda t: F.gelu(t), cdf + x * phi),
        "sigmoid": (lambda t: torch.sigmoid(t), None),
        "hardsigmoid": (lambda t: F.hardsigmoid(t), None),
    }
    gate = (r > 0).to(r.dtype)
    for name, (f, d) in derivative.items():
        xp = x.clone().requires_grad_(True)
        (plain,) = torch.autograd.grad(f(xp), xp, r)
        with guided_gates() as gg:
            xg = x.clone().requires_grad_(True)
            (guided,) = torch.autograd.grad(f(xg), xg, r)
        want = plain if d is None else d * r * gate
        if d is not None:
            assert torch.allclose(plain, d * r, rtol=1e-12, atol=1e-15), (name, plain, d * r)
            assert gg.calls, name
        else:
            assert not gg.calls, (name, gg.calls)
        assert torch.allclose(guided, want, rtol=1e-12, atol=1e-15), (name, guided, want)

    # Two ReLU layers (tools/make_fixtures.py's hand case): normal dx = [-5, -5], guided [0, -5].
    W1 = torch.tensor([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    W2 = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 2.0]], dtype=torch.float64)
    w3 = torch.tensor([2.0, 5.0], dtype=torch.float64)
    for guided, want in ((False, [-5.0, -5.0]), (True, [0.0, -5.0])):
        xs = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        if guided:
            with guided_gates():
                y = w3 @ F.relu(W2 @ nn.ReLU()(W1 @ xs))
                (dx,) = torch.autograd.grad(y, xs)
        else:
            y = w3 @ F.relu(W2 @ nn.ReLU()(W1 @ xs))
            (dx,) = torch.autograd.grad(y, xs)
        assert y.item() == 5.0 and dx.tolist() == want, (guided, dx, want)


def guided_backprop(model, x, target):
    with guided_gates() as gg:
        xg = x.clone().requires_grad_(True)
        (gb,) = torch.autograd.grad(model(xg)[0, target], xg)
    return gb, gg.calls


def guided_by_hooks(model, x, target):
    """Guided backprop with torch's own mechanism, for models whose only gates are nn.ReLU
    modules: a full backward hook on each clamps the gradient it passes down at 0. F.relu's
    backward gives grad_in = R_out [x > 0], so clamp(grad_in, min=0) = R_out [x > 0] [R_out > 0]."""
    handles = []
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False  # full backward hooks do not allow in-place outputs
            handles.append(m.register_full_backward_hook(lambda _m, gi, _go: (gi[0].clamp(min=0),)))
    try:
        xg = x.clone().requires_grad_(True)
        (gb,) = torch.autograd.grad(model(xg)[0, target], xg)
    finally:
        for h in handles:
            h.remove()
    return gb


# ----------------------------------------------------------------------------------------------
# The oracle
# ----------------------------------------------------------------------------------------------


def layer_gradients(model, layer_module, x, target):
    """A (the layer module's output), g = dy_c/dA, for one image. The hook hands the rest of
    the network a copy of A, so that an in-place op after the module (densenet's F.relu) cannot
    change A."""
    saved = {}

    def hook(_m, _inp, out):
        saved["A"] = out
        return out.clone()

    h = layer_module.register_forward_hook(hook)
    try:
        scores = model(x)
    finally:
        h.remove()
    (g,) = torch.autograd.grad(scores[0, target], saved["A"])
    return saved["A"][0].detach(), g[0]


def gradcampp_conditioning(A, g):
    """min |2 + S_k g| over the positions with g > 0 (the only ones Grad-CAM++ sums), S_k =
    sum_ab A_kab: a = 1/(2 + S g) there, so a value near 0 makes the weights ill-conditioned."""
    s = A.sum(dim=(1, 2), keepdim=True).expand_as(g)
    d = (2 + s * g)[g > 0]
    return float(d.abs().min()) if d.numel() else None


def maxpool_margin(model, x):
    """The smallest gap between the largest and second-largest value of a max-pool window
    (windows with a positive maximum), relative to the largest |value| of the pooled tensor,
    over every max-pool of the model (F.max_pool2d, which nn.MaxPool2d calls too). A float32
    engine may pick the other cell of a window whose gap is within its rounding error (about
    1e-7 relative), and then routes that window's gradient elsewhere. Exact ties (gap 0) are
    counted apart: both sides break them the same way (first maximum) when they compute the
    tied values identically."""
    orig = F.max_pool2d
    found = {"gap": math.inf, "ties": 0}

    def observed(inp, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        y = orig(inp, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=return_indices)
        pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)  # noqa: E731
        k, pd = pair(kernel_size), pair(padding)
        st = pair(stride) if stride not in (None, []) else k
        out = y[0] if return_indices else y
        (H, W), (OH, OW) = inp.shape[2:], out.shape[2:]
        extra = [max((o - 1) * s + kk - (n + 2 * p), 0) for o, s, kk, n, p in zip((OH, OW), st, k, (H, W), pd)]
        xp = F.pad(inp, (pd[1], pd[1] + extra[1], pd[0], pd[0] + extra[0]), value=-math.inf)
        windows = F.unfold(xp.flatten(0, 1)[:, None], k, stride=st)  # [N*C, kh*kw, OH*OW]
        top = windows.topk(2, dim=1).values
        gap = (top[:, 0] - top[:, 1])[top[:, 0] > 0] / inp.abs().amax()
        found["ties"] += int((gap == 0).sum())
        if (gap > 0).any():
            found["gap"] = min(found["gap"], float(gap[gap > 0].min()))
        return y

    F.max_pool2d = observed
    try:
        with torch.no_grad():
            model(x)
    finally:
        F.max_pool2d = orig
    return {"gap": None if found["gap"] == math.inf else found["gap"], "ties": found["ties"]}


def export_one(cfg, out_dir):
    t0 = time.time()
    name = cfg["name"]
    seed = model_seed(name)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cfg["build"]().eval()
    randomise_norms(model, cfg["input"], gen)
    net = nn.Sequential(model, nn.Softmax(dim=1)).eval() if cfg["softmax"] else model
    # The input: redrawn until no max-pool window is a near-tie (see maxpool_margin), judged in
    # float64 (float32 rounding can make a near-tie look like an exact one). float32 -> float64
    # -> float32 restores every weight exactly.
    net.double()
    for draws in range(1, MAX_DRAWS + 1):
        x = torch.randn([1] + cfg["input"], generator=gen)
        gap = maxpool_margin(net, x.double())["gap"]
        if gap is None or gap >= MIN_GAP:
            break
    else:
        raise SystemExit(f"{name}: {MAX_DRAWS} inputs drawn, each with a max-pool near-tie (gap < {MIN_GAP})")
    net.float()

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
    unfoldable = unfoldable_batchnorms(proto.graph)
    foldable = ops.get("BatchNormalization", 0) - unfoldable
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    if has_bn and (foldable > 0) != (cfg["bn"] == "keep"):
        raise SystemExit(f"{name}: bn '{cfg['bn']}' but {foldable} BatchNormalization nodes after a conv")

    with torch.no_grad():
        num_classes = model(x).shape[1]
    labels = [f"{name} class {i}" for i in range(num_classes)]
    if cfg["labels"] == "metadata":
        for k, v in [("labels", labels), ("mean", MEAN), ("std", STD)]:
            p = proto.metadata_props.add()
            p.key = k
            p.value = json.dumps(v)
    elif cfg["labels"] == "sidecar":
        with open(os.path.join(out_dir, f"{name}.labels.json"), "w") as f:
            json.dump({"labels": labels, "mean": MEAN, "std": STD}, f, indent=1)
    onnx.save(proto, onnx_path)
    t_export = time.time() - t0

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
    target = None
    for c in order[:10]:  # the highest-scoring class whose Grad-CAM map is not constant
        A, g = layer_gradients(model64, layer_module, x64, c)
        alpha = gradcam_weights(g)
        raw = combine(alpha, A, True)
        if raw.max() > raw.min():
            target = c
            break
    if target is None:
        raise SystemExit(f"{name}: no class among the top 10 has a non-constant Grad-CAM map")
    # ONNX shape inference loses the shapes after a Reshape to a computed shape (shufflenet's
    # channel shuffle); there the test's comparison of the activations is the only check.
    inferred_shape = shapes.get(tensor, [])
    shape_checked = len(inferred_shape) > 0
    if shape_checked and inferred_shape[1:] != list(A.shape):
        raise SystemExit(f"{name}: tensor {tensor} has shape {inferred_shape}, module output {list(A.shape)}")
    wpp = gradcampp_weights(A, g)
    rawpp = combine(wpp, A, True)
    gb, gates = guided_backprop(model64, x64, target)
    margin = maxpool_margin(model64, x64)
    # Every Relu, Clip, HardSwish and Erf node of the graph is one gate call of the guided run
    # (Erf: GELU's; HardSwish: opset >= 14, below it Hardswish exports as HardSigmoid and Mul).
    expected_calls = {
        "Relu": gates.get("relu", 0),
        "Clip": gates.get("hardtanh", 0) + gates.get("relu6", 0),
        "HardSwish": gates.get("hardswish", 0) if ops.get("HardSwish") else 0,
        "Erf": gates.get("gelu", 0),
    }
    if any(ops.get(op, 0) != calls for op, calls in expected_calls.items()):
        raise SystemExit(f"{name}: guided gate calls {gates} do not match the graph's nodes {ops}")
    if name == "resnet18":
        gb2 = guided_by_hooks(model64, x64, target)
        if not torch.equal(gb, gb2):
            raise SystemExit(f"{name}: guided backprop by F patching and by hooks differ: {(gb - gb2).abs().max()}")
    t_total = time.time() - t0

    doc = {
        "version": f"{SCRIPT_VERSION}; torch {torch.__version__}; torchvision {torchvision.__version__}; "
        f"onnx {onnx.__version__}",
        "name": name,
        "opset": cfg["opset"],
        "ops": ops,  # op type -> count of nodes
        "bn": cfg["bn"],
        # BatchNormalization nodes that follow no conv: the importer makes each a depthwise 1x1 conv
        "unfoldable_bn": unfoldable,
        "batch": cfg["batch"],
        "labels": cfg["labels"],
        "softmax": cfg["softmax"],
        "changes": cfg["changes"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "file_bytes": os.path.getsize(onnx_path),
        "export_seconds": round(t_export, 2),
        "oracle_seconds": round(t_total - t_export, 2),
        "input": tensor_json(x),
        "layer": {"module": cfg["layer"], "tensor": tensor, "shape": list(A.shape), "shape_inferred": shape_checked},
        "target": target,
        "guided_gates": gates,  # gate function -> calls in the guided run
        "gradcampp_conditioning": gradcampp_conditioning(A, g),
        "maxpool_margin": margin,
        "input_draws": draws,
        "expected": {
            "scores": tensor_json(scores),
            "output": tensor_json(output),
            "activation": tensor_json(A[None]),
            "gradients": tensor_json(g[None]),
            "gradcam": {"weights": tensor_json(alpha), "map": tensor_json(raw), "map_norm": tensor_json(normalise(raw))},
            "gradcampp": {"weights": tensor_json(wpp), "map": tensor_json(rawpp), "map_norm": tensor_json(normalise(rawpp))},
            "guided_backprop": tensor_json(gb),
        },
    }
    if cfg["labels"] != "none":
        doc["expected"]["labels"] = labels
        doc["expected"]["mean"] = MEAN
        doc["expected"]["std"] = STD
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(doc, f)
    print(
        f"export_torchvision: {name}: {doc['file_bytes'] / 1e6:.1f} MB, opset {cfg['opset']}, "
        f"layer {cfg['layer']} = '{tensor}' {list(A.shape)}, target {target}; "
        f"export {t_export:.1f} s, oracle {t_total - t_export:.1f} s",
        flush=True,
    )
    return t_total


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1].split(",")
        del args[i : i + 2]
        unknown = set(only) - {m["name"] for m in MODELS}
        if unknown:
            raise SystemExit(f"unknown models {sorted(unknown)}; the zoo: {', '.join(m['name'] for m in MODELS)}")
    out_dir = os.path.abspath(args[0] if args else DEFAULT_OUT)
    os.makedirs(out_dir, exist_ok=True)
    manifest = os.path.join(out_dir, "manifest.json")
    if os.path.exists(manifest):
        os.remove(manifest)  # written last: its presence means every file is complete
    check_guided_by_hand()
    models = [m for m in MODELS if only is None or m["name"] in only]
    print(f"export_torchvision: writing {len(models)} models to {out_dir}", flush=True)
    t0 = time.time()
    for i, cfg in enumerate(models):
        print(f"export_torchvision: [{i + 1}/{len(models)}] {cfg['name']} ...", flush=True)
        export_one(cfg, out_dir)
    print(f"export_torchvision: {len(models)} models in {time.time() - t0:.1f} s", flush=True)
    if only is not None:
        return
    with open(os.path.abspath(__file__), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(manifest, "w") as f:
        json.dump({"script_sha256": digest, "version": SCRIPT_VERSION, "models": [m["name"] for m in MODELS]}, f)


if __name__ == "__main__":
    main()
