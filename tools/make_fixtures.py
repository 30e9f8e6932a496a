#!/usr/bin/python3
"""Golden fixtures for webgpu-cam: every attribution method computed independently in PyTorch.

Run with Debian's interpreter (it has torch 1.13):   /usr/bin/python3 tools/make_fixtures.py
Writes test/fixtures/<name>.json for each fixture network. See tools/README.md for the schema.

Everything is deliberately plain: small random networks built from torch.nn modules, float64
math, plain autograd, one backward pass per target (an oracle, not an optimised engine).
Weights and inputs are drawn as float32 and only then widened to float64, so the values written
to the JSON (9 significant digits) round-trip exactly to the float32 numbers the engine loads.

The formulas are those of docs/METHODS.md, as published:
  gradcam         alpha_k = (1/Z) sum_ij g_kij,          map = ReLU(sum_k alpha_k A_k)
  counterfactual  alpha_k = (1/Z) sum_ij -g_kij,         map = ReLU(sum_k alpha_k A_k)
  gradcampp       w_k = sum_ij a_kij ReLU(g_kij),
                  a_kij = g^2 / (2 g^2 + (sum_ab A_kab) g^3), a = 0 where the denominator is 0,
                                                          map = ReLU(sum_k w_k A_k)
  xgradcam        w_k = sum_ij g_kij A_kij / (sum_ij A_kij + 1e-7)  (Fu et al. 2020, as in
                  pytorch-grad-cam's xgrad_cam.py),       map = ReLU(sum_k w_k A_k)
  hirescam        map = ReLU(sum_k g_k * A_k), no pooling of the gradient (Draelos & Carin 2020)
  gradcam-elementwise  map = sum_k ReLU(g_k * A_k) (pytorch-grad-cam's GradCAMElementWise)
  layercam        map = ReLU(sum_k ReLU(g_k) * A_k) (Jiang et al. 2021)
  eigencam        map = ReLU(+-(X - mean) v), X = A as [h*w, K], v its first right singular vector
                  (torch.linalg.svd), the sign making the largest |value| positive (Muhammad &
                  Yeasin 2020; centred as pytorch-grad-cam's get_2d_projection); the same map for
                  every target
  eigengradcam    the same with X = g * A (per target)
  eigensmooth:<m> the eigenSmooth option of channel method m (gradcam, gradcampp, cam): the map is
                  ReLU (none for cam) of eigencam's projection of X = w_k * A_k (pytorch-grad-cam's
                  eigen_smooth), with m's weights w
  cam             w_k = W_fc[c, k] (GAP -> linear heads), map = sum_k w_k A_k (signed, no ReLU)
  guided backprop d y^c / d x with every ReLU backward R_in = R_out [x > 0] [R_out > 0]
  guided gradcam  normalise(upsample(normalise(gradcam))) (broadcast over channels) * guided backprop
  saliency        |d y^c / d x| per input channel (Simonyan et al. 2014; Captum's Saliency, abs=True)
  gradient x input  x * d y^c / d x (Shrikumar et al. 2016)
  smoothgradcampp  Grad-CAM++ with m_p = mean over n copies x + sigma z_s of g^p (p = 1, 2, 3):
                  a = m2 / (2 m2 + (sum_ab A_ab) m3), w_k = sum_ij a ReLU(m1), sigma absolute
                  (Omeiza et al. 2019, torch-cam's numerator), map = ReLU(sum_k w_k A_k)
  augsmooth:<m>   the augSmooth option: the entry of method m averaged over the six copies
                  factor * flip(x), flip in (no, yes), factor in (0.9, 1, 1.1), flipped back
  smoothgrad      (1/n) sum_s d y^c / d x at x + sigma z_s, sigma = SG_SIGMA (max x - min x)
                  (Smilkov et al. 2017); z_s from the integer hash below (normal_noise), written
                  here from its definition in docs/METHODS.md; guided smoothgrad: the same mean
                  of guided backprop
  integrated gradients  (x - x') * (1/m) sum_s d y^c / d x at x' + (s + 1/2)/m (x - x'), constant
                  baseline x' (Sundararajan et al. 2017, midpoint Riemann sum)
  scorecam        M_k = normalise(upsample(A_k)) (per channel, to the input size), one forward of
                  x * M_k per channel; alpha_k = softmax(logits(x * M_k))[c] (softmax over the
                  classes, Wang et al. 2020), map = ReLU(sum_k alpha_k A_k)
  ablationcam     y_k = logit c with channel k of the layer set to zero (a forward hook on the
                  layer's module), w_k = (y - y_k) / y, 0 where y = 0 (Desai & Ramaswamy 2020),
                                                          map = ReLU(sum_k w_k A_k)
multilayer      explain() with a list of layers (test/fixtures/multilayer.json): per target one
                  torch.autograd.grad of y^c with respect to every listed layer's tensor; per layer
                  gradcam and layercam as above; then the fused map at the input size:
                  mean      normalise(mean over layers of map_up)   (pytorch-grad-cam's aggregation
                            of several target layers, with our per-layer map_up)
                  layercam  normalise(element-wise max over layers of upsample(S)), S = M / max M
                            for the deepest layer (last in the net's node order), tanh(2 M / max M)
                            for the others (Jiang et al. 2021, eq. 9 and the element-wise maximum
                            fusion); S = 0 where max M <= 0
Display order: normalise at layer resolution ((L-min)/(max-min), constant -> zeros), THEN
upsample bilinearly (torch interpolate, mode='bilinear', align_corners=False = half-pixel centres),
THEN normalise again (the samples fall between the layer's cells; pytorch-grad-cam renormalises
after resizing too, so its maps peak at 1).
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from cam_formulas import combine, eigen_projection, gradcam_weights, gradcampp_weights, normalise

SCRIPT_VERSION = "make_fixtures.py 1.5.0"
SEED = 20240611
DIGITS = 9
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")

torch.set_default_dtype(torch.float64)


# ----------------------------------------------------------------------------------------------
# Guided ReLU, two independent implementations (cross-checked against each other and by hand)
# ----------------------------------------------------------------------------------------------

class GuidedReLUFn(torch.autograd.Function):
    """Forward ReLU; backward R_in = R_out * [x > 0] * [R_out > 0]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, r_out):
        (x,) = ctx.saved_tensors
        return r_out * (x > 0).to(r_out.dtype) * (r_out > 0).to(r_out.dtype)


class ReLU(nn.Module):
    """ReLU whose backward is normal or guided (custom autograd Function), switchable."""

    def __init__(self):
        super().__init__()
        self.guided = False

    def forward(self, x):
        return GuidedReLUFn.apply(x) if self.guided else F.relu(x)


class Add(nn.Module):
    def forward(self, a, b):
        return a + b


def set_guided(model, on):
    for m in model.modules():
        if isinstance(m, ReLU):
            m.guided = on


# ----------------------------------------------------------------------------------------------
# Fixture networks: an ordered list of (node name, op, module, input tensor names, output name)
# ----------------------------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, name, in_shape, nodes, layer, cam_fc=None):
        super().__init__()
        self.name = name
        self.in_shape = in_shape  # [C, H, W]
        self.nodes = nodes  # list of dicts: name, op, module, inputs, output, attrs
        self.mods = nn.ModuleList([n["module"] for n in nodes])
        self.layer = layer
        self.cam_fc = cam_fc  # node name of the linear layer after GAP (None: CAM does not apply)
        self.output = nodes[-1]["output"]

    def forward(self, x):
        """Returns (logits, dict of every tensor by name)."""
        t = {"input": x}
        for n in self.nodes:
            args = [t[i] for i in n["inputs"]]
            t[n["output"]] = n["module"](*args)
        return t[self.output], t


def conv(cin, cout, k=3, stride=1, pad=1, dilation=1, groups=1):
    m = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dilation, groups=groups, bias=True)
    fan_in = (cin // groups) * k * k
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, dtype=torch.float32).double() * math.sqrt(2.0 / fan_in))
        m.bias.copy_(torch.randn(m.bias.shape, dtype=torch.float32).double() * 0.1)
        f32(m.weight)
        f32(m.bias)
    return m


def linear(cin, cout):
    m = nn.Linear(cin, cout, bias=True)
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, dtype=torch.float32).double() * math.sqrt(2.0 / cin))
        m.bias.copy_(torch.randn(m.bias.shape, dtype=torch.float32).double() * 0.1)
        f32(m.weight)
        f32(m.bias)
    return m


def f32(t):
    """Make every value exactly float32-representable (in place)."""
    t.copy_(t.float().double())


def node(name, op, module, inputs, attrs=None):
    return {"name": name, "op": op, "module": module, "inputs": inputs, "output": name, "attrs": attrs}


def conv_node(name, inp, m):
    ph, pw = m.padding
    return node(name, "conv2d", m, [inp], {
        "stride": list(m.stride),
        "pads": [ph, pw, ph, pw],
        "dilation": list(m.dilation),
        "groups": m.groups,
    })


def make_gap_head():
    c1, c2, fc = conv(3, 8), conv(8, 12), linear(12, 6)
    nodes = [
        conv_node("conv1", "input", c1),
        node("relu1", "relu", ReLU(), ["conv1"]),
        node("pool1", "maxpool2d", nn.MaxPool2d(2, 2), ["relu1"],
             {"kernel": [2, 2], "stride": [2, 2], "pads": [0, 0, 0, 0]}),
        conv_node("conv2", "pool1", c2),
        node("relu2", "relu", ReLU(), ["conv2"]),
        node("gap", "globalavgpool", nn.AdaptiveAvgPool2d(1), ["relu2"]),
        node("flatten", "flatten", nn.Flatten(1), ["gap"], {"axis": 1}),
        node("fc", "linear", fc, ["flatten"]),
    ]
    return Net("gap_head", [3, 17, 19], nodes, layer="relu2", cam_fc="fc")


def make_deep_head():
    nodes = [
        conv_node("conv1", "input", conv(3, 8)),
        node("relu1", "relu", ReLU(), ["conv1"]),
        conv_node("conv2", "relu1", conv(8, 10, stride=2)),
        node("relu2", "relu", ReLU(), ["conv2"]),
        conv_node("conv3", "relu2", conv(10, 12)),
        node("relu3", "relu", ReLU(), ["conv3"]),
        node("gap", "globalavgpool", nn.AdaptiveAvgPool2d(1), ["relu3"]),
        node("flatten", "flatten", nn.Flatten(1), ["gap"], {"axis": 1}),
        node("fc1", "linear", linear(12, 16), ["flatten"]),
        node("relu4", "relu", ReLU(), ["fc1"]),
        node("fc2", "linear", linear(16, 5), ["relu4"]),
    ]
    # The chosen layer is NOT the last spatial layer here: it is relu2 (after the stride-2 conv).
    return Net("deep_head", [3, 17, 19], nodes, layer="relu2", cam_fc=None)


def make_residual():
    # conv -> relu -> maxpool 3x3/s2/pad1 -> [conv(dilation 2) -> relu -> conv(groups 2) -> + skip -> relu]
    # -> GAP -> linear.  Exercises pool padding, dilation, groups and the add node.
    nodes = [
        conv_node("conv0", "input", conv(3, 8)),
        node("relu0", "relu", ReLU(), ["conv0"]),
        node("pool0", "maxpool2d", nn.MaxPool2d(3, 2, padding=1), ["relu0"],
             {"kernel": [3, 3], "stride": [2, 2], "pads": [1, 1, 1, 1]}),
        conv_node("conv1", "pool0", conv(8, 8, pad=2, dilation=2)),
        node("relu1", "relu", ReLU(), ["conv1"]),
        conv_node("conv2", "relu1", conv(8, 8, groups=2)),
        node("add", "add", Add(), ["conv2", "pool0"]),
        node("relu2", "relu", ReLU(), ["add"]),
        node("gap", "globalavgpool", nn.AdaptiveAvgPool2d(1), ["relu2"]),
        node("flatten", "flatten", nn.Flatten(1), ["gap"], {"axis": 1}),
        node("fc", "linear", linear(8, 6), ["flatten"]),
    ]
    return Net("residual", [3, 15, 18], nodes, layer="relu2", cam_fc="fc")


# ----------------------------------------------------------------------------------------------
# Export to a GraphSpec (src/model/spec.ts) and an independent interpreter of that spec
# ----------------------------------------------------------------------------------------------

def rnd(v):
    v = float(v)
    assert math.isfinite(v), v
    return float(f"{v:.{DIGITS}g}")


def tensor_json(t, shape=None):
    t = t.detach()
    return {"shape": list(shape if shape is not None else t.shape), "data": [rnd(v) for v in t.reshape(-1).tolist()]}


def graph_spec(net):
    nodes = []
    for n in net.nodes:
        d = {"op": n["op"], "name": n["name"], "inputs": n["inputs"], "output": n["output"]}
        if n["attrs"] is not None:
            d["attrs"] = n["attrs"]
        m = n["module"]
        if n["op"] in ("conv2d", "linear"):
            d["weights"] = {"weight": tensor_json(m.weight), "bias": tensor_json(m.bias)}
        nodes.append(d)
    return {"name": net.name, "input": {"name": "input", "shape": net.in_shape}, "output": net.output, "nodes": nodes}


def run_spec(spec, x):
    """Evaluate a GraphSpec (as parsed back from JSON) with torch.nn.functional: checks the export."""
    def w(n, k):
        # JSON holds 9 significant digits; rounding to float32 recovers the exact values.
        return torch.tensor(n["weights"][k]["data"]).float().double().reshape(n["weights"][k]["shape"])

    t = {spec["input"]["name"]: x}
    for n in spec["nodes"]:
        a = n.get("attrs", {})
        xs = [t[i] for i in n["inputs"]]
        op = n["op"]
        if op == "conv2d":
            top, left, bottom, right = a["pads"]
            y = F.conv2d(F.pad(xs[0], (left, right, top, bottom)), w(n, "weight"), w(n, "bias"),
                         stride=a["stride"], dilation=a["dilation"], groups=a["groups"])
        elif op == "relu":
            y = F.relu(xs[0])
        elif op == "maxpool2d":
            top, left, bottom, right = a["pads"]
            y = F.max_pool2d(F.pad(xs[0], (left, right, top, bottom), value=-math.inf), a["kernel"], a["stride"])
        elif op == "globalavgpool":
            y = xs[0].mean(dim=(2, 3), keepdim=True)
        elif op == "flatten":
            y = xs[0].reshape(xs[0].shape[0], -1)
        elif op == "linear":
            y = xs[0] @ w(n, "weight").T + w(n, "bias")
        elif op == "add":
            y = xs[0] + xs[1]
        else:
            raise ValueError(op)
        t[n["output"]] = y
    return t[spec["output"]]


# ----------------------------------------------------------------------------------------------
# The methods
# (normalise, combine, gradcam_weights, gradcampp_weights: tools/cam_formulas.py, shared with
# tools/export_torchvision.py)
# ----------------------------------------------------------------------------------------------

def upsample(m, H, W):
    return F.interpolate(m[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]


def xgradcam_weights(A, g):
    return (g * A).sum(dim=(1, 2)) / (A.sum(dim=(1, 2)) + 1e-7)


def scorecam_weights(net, x, A, c, squash=lambda y: torch.softmax(y, dim=1)):
    """Score-CAM: every channel's map resized to the input (bilinear, half-pixel centres),
    min-max normalised per channel (constant -> zeros), multiplied into the input; the batch of
    K masked inputs through the network; the softmax probability of class c of each (c a seed
    vector v over the classes: v . p)."""
    K = A.shape[0]
    H, W = x.shape[2:]
    up = F.interpolate(A[None], size=(H, W), mode="bilinear", align_corners=False)[0]  # [K, H, W]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    span = hi - lo
    masks = torch.where(span > 0, (up - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(up))
    with torch.no_grad():
        logits, _ = net(x[0][None] * masks[:, None])  # [K, classes]
    assert logits.shape[0] == K
    return pick(squash(logits), c)


def pick(s, c):
    """Column c of the scores s [R, classes], or for a seed vector c the scores s . c."""
    return s[:, c] if isinstance(c, int) else s @ c.to(s.dtype)


def ablationcam_weights(net, x, K, c, squash=lambda y: y):
    """Ablation-CAM: K copies of the input; a forward hook on the layer's module zeroes channel k
    of copy k; w_k = (y - y_k) / y with y the unablated logit of class c (0 where y = 0); c a
    seed vector v: y = v . logits."""
    layer_module = dict((n["name"], n["module"]) for n in net.nodes)[net.layer]

    def zero_channel(module, inp, out):
        out = out.clone()
        idx = torch.arange(K)
        out[idx, idx] = 0.0
        return out

    handle = layer_module.register_forward_hook(zero_channel)
    try:
        with torch.no_grad():
            ablated, _ = net(x.repeat(K, 1, 1, 1))
    finally:
        handle.remove()
    with torch.no_grad():
        y = pick(squash(net(x)[0]), c)[0]
    if y == 0:
        return torch.zeros(K)
    return (y - pick(squash(ablated), c)) / y


def spatial_entry(m, H, W):
    n = normalise(m)
    return {"map": m, "map_norm": n, "map_up": normalise(upsample(n, H, W))}


def method_entry(weights, A, relu, H, W):
    m = combine(weights, A, relu)
    n = normalise(m)
    return {"weights": weights, "map": m, "map_norm": n, "map_up": normalise(upsample(n, H, W))}


def compute(net, x, targets):
    C, H, W = net.in_shape
    set_guided(net, False)
    logits, t = net(x)
    A = t[net.layer]
    Z = A.shape[2] * A.shape[3]
    res = {k: [] for k in ("grad", "input_grad", "guided_backprop")}
    methods = {k: [] for k in ("gradcam", "counterfactual", "gradcampp", "xgradcam", "hirescam",
                               "gradcam-elementwise", "layercam", "eigencam", "eigengradcam", "cam",
                               "eigensmooth:gradcam", "eigensmooth:gradcampp", "eigensmooth:cam",
                               "prerelu:hirescam", "prerelu:gradcam-elementwise", "prerelu:layercam",
                               "prerelu:eigencam", "prerelu:eigengradcam", "scorecam", "ablationcam")}
    # A layer with activations of both signs: the input of the layer's node (before its ReLU),
    # or, for the residual net, conv2 (before the add: negative activations there still get a
    # gradient through the skip's sum, where before a ReLU they get none).
    pre = "conv2" if net.name == "residual" else next(n["inputs"][0] for n in net.nodes if n["output"] == net.layer)

    for c in targets:
        # Plain gradients: to the layer and to the input, one backward per target.
        xi = x.clone().requires_grad_(True)
        logits_c, tc = net(xi)
        g, gx, gpre = torch.autograd.grad(logits_c[0, c], [tc[net.layer], xi, tc[pre]])
        g, Ac = g[0], tc[net.layer][0].detach()
        # The spatial and eigen methods also at a layer with activations of both signs, where
        # Grad-CAM element-wise and LayerCAM can differ (for A >= 0, or g = 0 wherever A < 0 as
        # before a ReLU, they coincide).
        gp, Ap = gpre[0], tc[pre][0].detach()
        methods["prerelu:hirescam"].append(spatial_entry(F.relu((gp * Ap).sum(0)), H, W))
        methods["prerelu:gradcam-elementwise"].append(spatial_entry(F.relu(gp * Ap).sum(0), H, W))
        methods["prerelu:layercam"].append(spatial_entry(F.relu((F.relu(gp) * Ap).sum(0)), H, W))
        methods["prerelu:eigencam"].append(spatial_entry(F.relu(eigen_projection(Ap)), H, W))
        methods["prerelu:eigengradcam"].append(spatial_entry(F.relu(eigen_projection(gp * Ap)), H, W))

        check_input_grad_fd(net, x, c, gx[0])

        alpha = gradcam_weights(g)
        methods["gradcam"].append(method_entry(alpha, Ac, True, H, W))
        methods["counterfactual"].append(method_entry((-g).mean(dim=(1, 2)), Ac, True, H, W))
        methods["gradcampp"].append(method_entry(gradcampp_weights(Ac, g), Ac, True, H, W))
        methods["xgradcam"].append(method_entry(xgradcam_weights(Ac, g), Ac, True, H, W))
        methods["hirescam"].append(spatial_entry(F.relu((g * Ac).sum(0)), H, W))
        methods["gradcam-elementwise"].append(spatial_entry(F.relu(g * Ac).sum(0), H, W))
        methods["layercam"].append(spatial_entry(F.relu((F.relu(g) * Ac).sum(0)), H, W))
        methods["eigencam"].append(spatial_entry(F.relu(eigen_projection(Ac)), H, W))
        methods["eigengradcam"].append(spatial_entry(F.relu(eigen_projection(g * Ac)), H, W))
        for name, w in (("gradcam", alpha), ("gradcampp", gradcampp_weights(Ac, g))):
            methods[f"eigensmooth:{name}"].append(spatial_entry(F.relu(eigen_projection(w[:, None, None] * Ac)), H, W))
        methods["scorecam"].append(method_entry(scorecam_weights(net, x, Ac, c), Ac, True, H, W))
        methods["ablationcam"].append(method_entry(ablationcam_weights(net, x, Ac.shape[0], c), Ac, True, H, W))
        if net.cam_fc is not None:
            fc = dict((n["name"], n["module"]) for n in net.nodes)[net.cam_fc]
            wc = fc.weight[c].detach()
            methods["cam"].append(method_entry(wc, Ac, False, H, W))
            methods["eigensmooth:cam"].append(spatial_entry(eigen_projection(wc[:, None, None] * Ac), H, W))
            # The lecture's identity: for a GAP -> linear head, alpha_k = W[c, k] / Z ...
            assert torch.allclose(alpha, wc / Z, rtol=0, atol=1e-10), (net.name, c)
            # ... so Grad-CAM = ReLU(CAM) / Z and the normalised maps coincide.
            cam_map = methods["cam"][-1]["map"]
            assert torch.allclose(methods["gradcam"][-1]["map"], F.relu(cam_map) / Z, rtol=0, atol=1e-10)
            assert torch.allclose(methods["gradcam"][-1]["map_norm"], normalise(F.relu(cam_map)), rtol=0, atol=1e-9)

        # Guided backprop, implementation 1: the custom autograd Function.
        set_guided(net, True)
        xg = x.clone().requires_grad_(True)
        (gb,) = torch.autograd.grad(net(xg)[0][0, c], xg)
        set_guided(net, False)
        # Implementation 2: backward hooks on the ReLU modules clamping the incoming gradient.
        gb2 = guided_by_hooks(net, x, c)
        assert torch.equal(gb, gb2), (net.name, c, (gb - gb2).abs().max())

        res["grad"].append(g)
        res["input_grad"].append(gx[0])
        res["guided_backprop"].append(gb[0])

    sampled = {k: [] for k in ("saliency", "gradient_x_input", "smoothgrad", "guided_smoothgrad",
                                "integrated_gradients")}
    for i, c in enumerate(targets):
        gx = res["input_grad"][i]
        sampled["saliency"].append(gx.abs())
        sampled["gradient_x_input"].append(x[0] * gx)
        sampled["smoothgrad"].append(smoothgrad(net, x, c, guided=False))
        sampled["guided_smoothgrad"].append(smoothgrad(net, x, c, guided=True))
        sampled["integrated_gradients"].append(integrated_gradients(net, x, c))
        check_completeness(net, x, c)

    methods["smoothgradcampp"] = [smooth_gradcampp_entry(net, x, c) for c in targets]
    for name, entries in augsmooth(net, x, targets).items():
        methods[name] = entries

    T = len(targets)
    ggc = [methods["gradcam"][i]["map_up"][None] * res["guided_backprop"][i] for i in range(T)]

    def stack(lst):
        return torch.stack(lst)

    exp = {
        "prerelu_layer": pre,
        "logits": tensor_json(logits),
        "activation": tensor_json(A),
        "gradients": tensor_json(stack(res["grad"])),
        "input_gradients": tensor_json(stack(res["input_grad"])),
    }
    for name, entries in methods.items():
        if not entries:
            continue
        exp[name] = {k: tensor_json(stack([e[k] for e in entries])) for k in entries[0]}
    exp["guided_backprop"] = tensor_json(stack(res["guided_backprop"]))
    exp["guided_gradcam"] = tensor_json(stack(ggc))
    for name, entries in sampled.items():
        exp[name] = tensor_json(stack(entries))
    return exp, logits, methods, res


MULTILAYER = {"deep_head": ["relu2", "relu3", "relu1"], "residual": ["relu2", "pool0", "relu1", "relu0"]}
LAYERCAM_GAMMA = 2.0


def fuse_mean(ups):
    return normalise(torch.stack(ups).mean(dim=0))


def fuse_layercam(raws, deepest, H, W):
    scaled = []
    for l, m in enumerate(raws):
        mx = m.max()
        s = m / mx if mx > 0 else torch.zeros_like(m)
        if l != deepest:
            s = torch.tanh(LAYERCAM_GAMMA * s)
        scaled.append(upsample(s, H, W))
    return normalise(torch.stack(scaled).amax(dim=0))


def compute_multilayer(net, x, targets, layers, single):
    """Grad-CAM, LayerCAM, Eigen-CAM and Eigen-Grad-CAM at several layers from one autograd call
    per target, and their fused maps."""
    C, H, W = net.in_shape
    order = [n["output"] for n in net.nodes]
    deepest = max(range(len(layers)), key=lambda l: order.index(layers[l]))
    names = ("gradcam", "layercam", "eigencam", "eigengradcam")
    per = {m: [[] for _ in layers] for m in names}
    fused = {f"{m}:{f}": [] for m in names for f in ("mean", "layercam")}
    grads = [[] for _ in layers]
    for ti, c in enumerate(targets):
        xi = x.clone().requires_grad_(True)
        logits_c, tc = net(xi)
        gs = torch.autograd.grad(logits_c[0, c], [tc[l] for l in layers])
        for l, name in enumerate(layers):
            A, g = tc[name][0].detach(), gs[l][0]
            grads[l].append(g)
            per["gradcam"][l].append(spatial_entry(combine(gradcam_weights(g), A, True), H, W))
            per["layercam"][l].append(spatial_entry(F.relu((F.relu(g) * A).sum(0)), H, W))
            per["eigencam"][l].append(spatial_entry(F.relu(eigen_projection(A)), H, W))
            per["eigengradcam"][l].append(spatial_entry(F.relu(eigen_projection(g * A)), H, W))
            if name == net.layer:
                # The same gradient as the single-layer computation's.
                assert torch.allclose(g, single["grad"][ti], rtol=0, atol=1e-12), (net.name, name, c)
        for m in per:
            entries = [per[m][l][-1] for l in range(len(layers))]
            fused[f"{m}:mean"].append(fuse_mean([e["map_up"] for e in entries]))
            fused[f"{m}:layercam"].append(fuse_layercam([e["map"] for e in entries], deepest, H, W))
    stack = torch.stack
    return {
        "layers": layers,
        "deepest": layers[deepest],
        "targets": targets,
        "gradients": [tensor_json(stack(g)) for g in grads],
        "per_layer": {
            m: [{k: tensor_json(stack([e[k] for e in per[m][l]])) for k in ("map", "map_norm", "map_up")}
                for l in range(len(layers))]
            for m in per
        },
        "fused": {k: tensor_json(stack(v)) for k, v in fused.items()},
    }


AUG_FLIPS, AUG_FACTORS = (False, True), (0.9, 1.0, 1.1)


def augsmooth(net, x, targets):
    """pytorch-grad-cam's aug_smooth, written out: for every (flip, factor) of a horizontal flip
    and a brightness factor, the maps of the copy factor * flip(x) for class c, every tensor of the
    entry flipped back along the width (the weights are per channel: not flipped), then the mean
    over the six copies (no renormalisation of the mean). One forward and backward per copy."""
    C, H, W = net.in_shape
    out = {f"augsmooth:{k}": [] for k in ("gradcam", "gradcampp", "hirescam", "eigencam", "cam")}
    for c in targets:
        copies = {k: [] for k in out}
        for flip in AUG_FLIPS:
            for factor in AUG_FACTORS:
                xa = (torch.flip(x, dims=[3]) if flip else x) * factor
                logits_a, ta = net(xa)
                (ga,) = torch.autograd.grad(logits_a[0, c], [ta[net.layer]])
                ga, Aa = ga[0], ta[net.layer][0].detach()
                entries = {
                    "augsmooth:gradcam": method_entry(gradcam_weights(ga), Aa, True, H, W),
                    "augsmooth:gradcampp": method_entry(gradcampp_weights(Aa, ga), Aa, True, H, W),
                    "augsmooth:hirescam": spatial_entry(F.relu((ga * Aa).sum(0)), H, W),
                    "augsmooth:eigencam": spatial_entry(F.relu(eigen_projection(Aa)), H, W),
                }
                if net.cam_fc is not None:
                    fc = dict((n["name"], n["module"]) for n in net.nodes)[net.cam_fc]
                    entries["augsmooth:cam"] = method_entry(fc.weight[c].detach(), Aa, False, H, W)
                for k, entry in entries.items():
                    copies[k].append({f: v if f == "weights" or not flip else torch.flip(v, dims=[-1])
                                      for f, v in entry.items()})
        for k, lst in copies.items():
            if lst:
                out[k].append({f: torch.stack([e[f] for e in lst]).mean(0) for f in lst[0]})
    return out


SQUASH = {"probability": lambda y: torch.softmax(y, dim=1), "sigmoid": torch.sigmoid}
SEED_SQUASH = {"seed": lambda y: y, "seed_probability": lambda y: torch.softmax(y, dim=1)}


def entry_json(entry):
    """One row's method entry as the fixtures store it: each tensor with a leading axis of 1."""
    return {k: tensor_json(val[None]) for k, val in entry.items()}


def t_layer(net, x):
    with torch.no_grad():
        return net(x)[1][net.layer][0]


def seed_vector(K):
    """The fixtures' seed vector over the classes: v_c = (-1)^c (c + 1) / K (no RNG drawn)."""
    return torch.tensor([(-1) ** c * (c + 1) / K for c in range(K)], dtype=torch.float64)


def score_targets(net, x, targets):
    """Explained scores other than the logit, by autograd of the score itself: softmax(y)[c],
    sigmoid(y)[c] for each target c, and the seed-vector scores v . y and v . softmax(y)
    (one row). Gradients to the layer and to the input, and Grad-CAM of each; plus the classes
    above a threshold (sigmoid > 0.5; softmax > 1/K), highest logit first."""
    C, H, W = net.in_shape
    set_guided(net, False)
    with torch.no_grad():
        logits, _ = net(x)
    K = logits.shape[1]
    v = seed_vector(K)
    scores = {
        "probability": [lambda y, c=c: F.softmax(y[0], dim=0)[c] for c in targets],
        "sigmoid": [lambda y, c=c: torch.sigmoid(y[0, c]) for c in targets],
        "seed": [lambda y: (v * y[0]).sum()],
        "seed_probability": [lambda y: (v * F.softmax(y[0], dim=0)).sum()],
    }
    out = {"seed_vector": [rnd(u) for u in v.tolist()]}
    for name, fns in scores.items():
        grads, input_grads, cams, values = [], [], [], []
        for fn in fns:
            xi = x.clone().requires_grad_(True)
            y, tc = net(xi)
            s = fn(y)
            g, gx = torch.autograd.grad(s, [tc[net.layer], xi])
            Ac = tc[net.layer][0].detach()
            grads.append(g[0])
            input_grads.append(gx[0])
            cams.append(method_entry(gradcam_weights(g[0]), Ac, True, H, W))
            values.append(s.detach())
        sampled = {
            "smoothgrad": [score_smoothgrad(net, x, fn) for fn in fns],
            "integrated_gradients": [score_integrated_gradients(net, x, fn) for fn in fns],
        }
        for fn in fns:
            check_score_completeness(net, x, fn)
        out[name] = {
            **{k: tensor_json(torch.stack(v)) for k, v in sampled.items()},
            "score": tensor_json(torch.stack(values)),
            "gradients": tensor_json(torch.stack(grads)),
            "input_gradients": tensor_json(torch.stack(input_grads)),
            "gradcam": {k: tensor_json(torch.stack([e[k] for e in cams])) for k in cams[0]},
        }
        if name in SQUASH:
            # The perturbation methods on this score: Score-CAM's weights the score of each masked
            # input (softmax as published for 'probability'), Ablation-CAM's (s - s_k) / s.
            Ac = t_layer(net, x)
            for method, weights in (("scorecam", scorecam_weights), ("ablationcam", ablationcam_weights)):
                entries = [method_entry(weights(net, x, Ac if method == "scorecam" else Ac.shape[0], c, SQUASH[name]),
                                        Ac, True, H, W) for c in targets]
                out[name][method] = {k: tensor_json(torch.stack([e[k] for e in entries])) for k in entries[0]}
        if name in SEED_SQUASH:
            # The perturbation methods of the seed vector: Score-CAM's weights v . softmax of each
            # masked input (as published), Ablation-CAM's (v.s - v.s_k) / v.s on the score s.
            Ac = t_layer(net, x)
            out[name]["scorecam"] = entry_json(method_entry(scorecam_weights(net, x, Ac, v), Ac, True, H, W))
            ablation = ablationcam_weights(net, x, Ac.shape[0], v, SEED_SQUASH[name])
            out[name]["ablationcam"] = entry_json(method_entry(ablation, Ac, True, H, W))
        if name == "seed" and net.cam_fc is not None:
            # CAM of the seed vector: the head is linear, so its weights are v . W (rows of W mixed).
            fc = dict((n["name"], n["module"]) for n in net.nodes)[net.cam_fc]
            Ac = t_layer(net, x)
            cam = method_entry(v @ fc.weight.detach(), Ac, False, H, W)
            out[name]["cam"] = {k: tensor_json(val[None]) for k, val in cam.items()}
    order = torch.argsort(logits[0], descending=True).tolist()
    sig, prob = torch.sigmoid(logits[0]), F.softmax(logits[0], dim=0)
    out["above"] = {
        "sigmoid": {"threshold": 0.5, "classes": [c for c in order if sig[c] > 0.5]},
        "probability": {"threshold": rnd(1 / K), "classes": [c for c in order if prob[c] > rnd(1 / K)]},
    }
    return out


def check_input_grad_fd(net, x, c, gx, n=8, eps=1e-6):
    """Central differences of y^c at a few input positions. The net is piecewise linear and the
    smallest |pre-activation| is ~1e-4, far above eps, so the difference quotient is exact up to
    rounding."""
    gen = torch.Generator().manual_seed(c)
    with torch.no_grad():
        for _ in range(n):
            idx = tuple(int(torch.randint(s, (1,), generator=gen)) for s in gx.shape)
            xp, xm = x.clone(), x.clone()
            xp[(0,) + idx] += eps
            xm[(0,) + idx] -= eps
            fd = (net(xp)[0][0, c] - net(xm)[0][0, c]) / (2 * eps)
            assert abs(fd - gx[idx]) < 1e-7, (net.name, c, idx, float(fd), float(gx[idx]))


def guided_by_hooks(net, x, c):
    """Guided backprop via full backward hooks on the ReLU modules (normal F.relu forward).

    F.relu's backward already gives grad_in = grad_out * [x > 0]; replacing it with
    grad_out.clamp(min=0) * [x > 0] yields grad_out * [x > 0] * [grad_out > 0].
    """
    handles = []
    saved = {}

    def fwd_hook(m, inp, out):
        saved[id(m)] = inp[0].detach()

    def bwd_hook(m, grad_in, grad_out):
        return (grad_out[0].clamp(min=0) * (saved[id(m)] > 0).to(grad_out[0].dtype),)

    for m in net.modules():
        if isinstance(m, ReLU):
            handles.append(m.register_forward_hook(fwd_hook))
            handles.append(m.register_full_backward_hook(bwd_hook))
    try:
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(xg)[0][0, c], xg)
    finally:
        for h in handles:
            h.remove()
    return g


# ----------------------------------------------------------------------------------------------
# Input-gradient methods over perturbed copies (SmoothGrad, Integrated Gradients)
# ----------------------------------------------------------------------------------------------

SG_SAMPLES, SG_SIGMA, SG_SEED = 4, 0.15, 7
IG_STEPS, IG_BASELINE = 8, -0.25
M32 = 0xFFFFFFFF


def pcg(v):
    """PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano 2020), on Python ints."""
    state = (v * 747796405 + 2891336453) & M32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & M32
    return ((word >> 22) ^ word) & M32


def normal_noise(seed, s, i, count):
    """Standard normal values of copy s of image i: Box-Muller on two hashed 24-bit uniforms."""
    key = pcg((pcg(seed) + s) & M32)
    key = pcg((key + i) & M32)
    out = []
    for e in range(count):
        u1 = ((pcg((key + 2 * e) & M32) >> 8) + 1) * 2.0 ** -24
        u2 = (pcg((key + 2 * e + 1) & M32) >> 8) * 2.0 ** -24
        out.append(-math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * (u2 - 0.5)))
    return torch.tensor(out)


def check_noise():
    z = torch.cat([normal_noise(3, s, 1, 5000) for s in range(4)])
    assert abs(z.mean().item()) < 0.03 and abs(z.std().item() - 1.0) < 0.03, (z.mean(), z.std())
    assert abs((z.abs() < 1).double().mean().item() - 0.6827) < 0.02
    assert not torch.equal(normal_noise(3, 0, 0, 8), normal_noise(3, 1, 0, 8))
    assert not torch.equal(normal_noise(3, 0, 0, 8), normal_noise(4, 0, 0, 8))


def input_grad(net, x, c, guided=False):
    set_guided(net, guided)
    xi = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(net(xi)[0][0, c], xi)
    set_guided(net, False)
    return gx[0]


def smoothgrad(net, x, c, guided):
    sigma = SG_SIGMA * (x.max() - x.min())
    grads = [input_grad(net, x + sigma * normal_noise(SG_SEED, s, 0, x.numel()).reshape(x.shape), c, guided)
             for s in range(SG_SAMPLES)]
    return torch.stack(grads).mean(0)


SGPP_SAMPLES, SGPP_SIGMA, SGPP_SEED = 3, 0.3, 11


def smooth_gradcampp_entry(net, x, c):
    """Smooth Grad-CAM++ (Omeiza et al. 2019, with torch-cam's numerator): the copies
    x + sigma z_s (sigma absolute, z_s = normal_noise(seed, s, 0)), one forward and backward each;
    m_p = mean over the copies of g^p; a = m2 / (2 m2 + (sum_ab A_ab) m3), 0 where the denominator
    is 0; w_k = sum_ij a ReLU(m1); the map from the activations A of x itself."""
    C, H, W = net.in_shape
    with torch.no_grad():
        A = net(x)[1][net.layer][0]
    grads = []
    for s in range(SGPP_SAMPLES):
        xs = x + SGPP_SIGMA * normal_noise(SGPP_SEED, s, 0, x.numel()).reshape(x.shape)
        logits_s, ts = net(xs)
        (gs,) = torch.autograd.grad(logits_s[0, c], [ts[net.layer]])
        grads.append(gs[0])
    G = torch.stack(grads)
    m1, m2, m3 = G.mean(0), (G ** 2).mean(0), (G ** 3).mean(0)
    S = A.sum(dim=(1, 2), keepdim=True)
    den = 2 * m2 + S * m3
    a = torch.where(den != 0, m2 / torch.where(den != 0, den, torch.ones_like(den)), torch.zeros_like(den))
    w = (a * F.relu(m1)).sum(dim=(1, 2))
    return method_entry(w, A, True, H, W)


def integrated_gradients(net, x, c, steps=IG_STEPS, baseline=IG_BASELINE):
    b = torch.full_like(x, baseline)
    grads = [input_grad(net, b + (s + 0.5) / steps * (x - b), c) for s in range(steps)]
    return (x - b)[0] * torch.stack(grads).mean(0)


def score_input_grad(net, x, fn):
    """d fn(logits) / d input, fn a scalar score of the logits [1, K]."""
    xi = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(fn(net(xi)[0]), xi)
    return gx[0]


def score_smoothgrad(net, x, fn):
    sigma = SG_SIGMA * (x.max() - x.min())
    grads = [score_input_grad(net, x + sigma * normal_noise(SG_SEED, s, 0, x.numel()).reshape(x.shape), fn)
             for s in range(SG_SAMPLES)]
    return torch.stack(grads).mean(0)


def score_integrated_gradients(net, x, fn, steps=IG_STEPS, baseline=IG_BASELINE):
    b = torch.full_like(x, baseline)
    grads = [score_input_grad(net, b + (s + 0.5) / steps * (x - b), fn) for s in range(steps)]
    return (x - b)[0] * torch.stack(grads).mean(0)


def check_score_completeness(net, x, fn):
    """Sum of IG of a score = score(x) - score(x'), within 2 % (or 1e-4) at 256 steps."""
    ig = score_integrated_gradients(net, x, fn, steps=256)
    with torch.no_grad():
        ds = fn(net(x)[0]) - fn(net(torch.full_like(x, IG_BASELINE))[0])
    assert abs(ig.sum() - ds) <= max(0.02 * abs(ds), 1e-4), (net.name, float(ig.sum()), float(ds))


def check_completeness(net, x, c):
    """Sum of IG = y(x) - y(x') up to the Riemann sum's error: within 1 % at 256 steps."""
    ig = integrated_gradients(net, x, c, steps=256)
    with torch.no_grad():
        dy = net(x)[0][0, c] - net(torch.full_like(x, IG_BASELINE))[0][0, c]
    assert abs(ig.sum() - dy) <= 0.01 * abs(dy), (net.name, c, float(ig.sum()), float(dy))


# ----------------------------------------------------------------------------------------------
# Self-checks on tiny hand-computed cases
# ----------------------------------------------------------------------------------------------

def check_by_hand():
    # Guided backprop through two ReLU layers:
    #   x = [1, -2];  W1 = [[1,0],[0,-1],[1,1]]  -> pre1 = [1, 2, -1], h1 = [1, 2, 0]
    #   W2 = [[1,-1,0],[-1,1,2]]                  -> pre2 = [-1, 1],   h2 = [0, 1]
    #   y = [2, 5] . h2 = 5
    # Normal backward: R_pre2 = [0, 5]; R_h1 = W2^T R_pre2 = [-5, 5, 10]; R_pre1 = [-5, 5, 0];
    #   dx = W1^T R_pre1 = [-5, -5].
    # Guided: R_pre1 = R_h1 [pre1 > 0] [R_h1 > 0] = [0, 5, 0]; dx = W1^T [0, 5, 0] = [0, -5].
    W1 = torch.tensor([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    W2 = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 2.0]])
    w3 = torch.tensor([2.0, 5.0])
    for relu, want in ((F.relu, [-5.0, -5.0]), (GuidedReLUFn.apply, [0.0, -5.0])):
        x = torch.tensor([1.0, -2.0], requires_grad=True)
        y = w3 @ relu(W2 @ relu(W1 @ x))
        assert y.item() == 5.0
        (dx,) = torch.autograd.grad(y, x)
        assert dx.tolist() == want, (dx, want)

    # Grad-CAM++ weights for one 1x2 channel: A = [1, 3] (sum 4), g = [0.5, -1]:
    #   a = g^2 / (2 g^2 + 4 g^3): [0.25 / (0.5 + 0.5), 1 / (2 - 4)] = [0.25, -0.5]
    #   w = 0.25 * ReLU(0.5) + (-0.5) * ReLU(-1) = 0.125
    # A zero gradient gives a zero denominator: a = 0, no NaN.
    A = torch.tensor([[[1.0, 3.0]], [[2.0, 2.0]]])
    g = torch.tensor([[[0.5, -1.0]], [[0.0, 0.0]]])
    assert gradcampp_weights(A, g).tolist() == [0.125, 0.0]
    # XGrad-CAM, same channels: (1*0.5 + 3*(-1)) / (4 + 1e-7) and 0 / (4 + 1e-7).
    assert xgradcam_weights(A, g).tolist() == [-2.5 / (4 + 1e-7), 0.0]

    # Eigen-CAM's projection of a rank-1 case: channels [0, 1, 3] and twice that over 3 positions,
    # centred [-4/3, -1/3, 5/3] and twice that, v = (1, 2)/sqrt(5), p = sqrt(5) [-4/3, -1/3, 5/3]
    # (largest |p| positive whichever sign the SVD returns), given as a 2 x 1 x 3 tensor.
    X = torch.tensor([[[0.0, 1.0, 3.0]], [[0.0, 2.0, 6.0]]])
    want = torch.tensor([[-4 / 3, -1 / 3, 5 / 3]]) * math.sqrt(5)
    assert torch.allclose(eigen_projection(X), want, rtol=0, atol=1e-12), eigen_projection(X)
    assert torch.allclose(eigen_projection(-X), want, rtol=0, atol=1e-12)

    # Normalisation: a constant map becomes zeros.
    assert normalise(torch.full((2, 3), 7.0)).abs().sum().item() == 0.0
    # Bilinear upsampling with half-pixel centres: [0, 1] -> 4 wide = [0, .25, .75, 1].
    assert upsample(torch.tensor([[0.0, 1.0]]), 1, 4).tolist() == [[0.0, 0.25, 0.75, 1.0]]


# ----------------------------------------------------------------------------------------------

def pick_targets(logits):
    order = torch.argsort(logits[0], descending=True).tolist()
    return [order[0], order[len(order) // 2], order[-1]]  # top, middle, bottom


def main():
    check_by_hand()
    check_noise()
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.manual_seed(SEED)
    version = f"{SCRIPT_VERSION}; torch {torch.__version__}; python {sys.version.split()[0]}"
    multilayer = {}
    for make in (make_gap_head, make_deep_head, make_residual):
        net = make()
        C, H, W = net.in_shape
        x = torch.randn(1, C, H, W, dtype=torch.float32).double()
        with torch.no_grad():
            logits, _ = net(x)
        targets = pick_targets(logits)
        exp, logits, methods, single = compute(net, x, targets)
        if net.name in MULTILAYER:
            multilayer[net.name] = compute_multilayer(net, x, targets, MULTILAYER[net.name], single)
        prerelu_layer = exp.pop("prerelu_layer")
        scored = score_targets(net, x, targets)

        spec = graph_spec(net)
        fixture = {
            "version": version,
            "name": net.name,
            "notes": {
                "layout": "all tensors NCHW row-major, {shape, data}; per-target results stacked on a leading T axis in the order of 'targets'",
                "precision": "float64 math in PyTorch autograd; weights and input are float32 values; written with 9 significant digits",
                "targets": "[top class, middle-ranked class, bottom class] of the logits",
                "map": "un-normalised map at layer resolution",
                "map_norm": "(map - min) / (max - min) at layer resolution; a constant map gives zeros",
                "map_up": "map_norm upsampled to the input size: normalise FIRST, then bilinear upsample "
                          "(torch interpolate, align_corners=False, half-pixel centres), then normalise again",
                "cam": "present only for GAP -> linear heads: weights = linear weight row W[c, :], map signed (no ReLU), bias excluded",
                "gradcampp": "a = g^2 / (2 g^2 + (sum_ab A_ab) g^3), a = 0 where the denominator is 0; w_k = sum_ij a_ij ReLU(g_ij)",
                "xgradcam": "w_k = sum_ij g_ij A_ij / (sum_ij A_ij + 1e-7); map = ReLU(sum_k w_k A_k)",
                "hirescam": "map = ReLU(sum_k g_k * A_k) at each position (no weights)",
                "gradcam-elementwise": "map = sum_k ReLU(g_k * A_k) at each position (no weights)",
                "layercam": "map = ReLU(sum_k ReLU(g_k) * A_k) at each position (no weights)",
                "eigencam": "map = ReLU(sign * (X - mean_positions X) v1), X = A as [h*w, K], v1 its first right singular vector, sign making the largest |value| positive; identical for every target",
                "eigengradcam": "as eigencam with X = g * A",
                "prerelu:<m>": "spatial and eigen method m at prerelu_layer (activations of both signs): the input of the layer's node, conv2 for residual",
                "smoothgradcampp": "Smooth Grad-CAM++: m_p = mean of g^p over 'sampling.smoothgradcampp.samples' copies "
                                   "input + sigma z (sigma absolute, z = normal_noise(seed, s, 0)); a = m2 / (2 m2 + (sum_ab A_ab) m3), "
                                   "0 where the denominator is 0; w_k = sum_ij a ReLU(m1); map = ReLU(sum_k w_k A_k), A of the input itself",
                "augsmooth:<m>": "the augSmooth option of method m: every entry (weights unflipped, maps flipped back along the width) "
                                 "averaged over the six copies factor * flip(input), flip in (no, yes), factor in (0.9, 1, 1.1), "
                                 "each explaining class c; the mean is not renormalised",
                "eigensmooth:<m>": "the eigenSmooth option of channel method m: eigencam's projection of X = w_k A_k with m's weights, ReLU except for cam",
                "scorecam": "weights alpha_k = softmax over classes of logits(input * M_k) at class c, M_k = channel k "
                            "upsampled (bilinear, align_corners=False) to the input and min-max normalised "
                            "(constant -> zeros); map = ReLU(sum_k alpha_k A_k)",
                "ablationcam": "weights w_k = (y - y_k) / y, y_k the logit of class c with channel k of the layer zeroed "
                               "(0 where y = 0); map = ReLU(sum_k w_k A_k)",
                "guided_backprop": "d y^c / d input with every ReLU backward R_in = R_out [x>0] [R_out>0], not normalised",
                "guided_gradcam": "gradcam.map_up broadcast over the input channels times guided_backprop",
                "input_gradients": "plain d y^c / d input (normal ReLU backward)",
                "score_targets": "explained scores other than the logit y^c, by autograd of the score: probability "
                                 "softmax(y)[c] and sigmoid(y)[c] per target c; seed v . y and seed_probability "
                                 "v . softmax(y) (one row, v = seed_vector); gradients (layer), input_gradients, gradcam "
                                 "as above; scorecam, ablationcam (probability, sigmoid) with the score in place of "
                                 "softmax / the logit; scorecam, ablationcam (seed, seed_probability) of the seed vector: Score-CAM alpha_k = v . softmax(logits(input * M_k)), Ablation-CAM (v.s - v.s_k) / v.s with s the logits (seed) or their softmax (seed_probability); seed.cam (GAP -> linear heads only) CAM with weights v . W; "
                                 "smoothgrad and integrated_gradients of the score as the logit's (same sampling); above: the classes with sigmoid > 0.5 / softmax > threshold, highest logit first",
                "saliency": "|input_gradients| per input channel",
                "gradient_x_input": "input * input_gradients",
                "smoothgrad": "mean of input gradients over 'sampling.smoothgrad.samples' copies input + sigma z, "
                              "sigma = sigma fraction * (max - min of the input), z = normal_noise(seed, s, 0)",
                "guided_smoothgrad": "the same mean of guided backprop",
                "integrated_gradients": "(x - x') * mean of input gradients at x' + (s + 1/2)/steps (x - x'), "
                                        "s = 0 .. steps - 1, x' the constant 'sampling.integratedGradients.baseline'",
            },
            "graph": spec,
            "input": tensor_json(x),
            "layer": net.layer,
            "prerelu_layer": prerelu_layer,
            "targets": targets,
            "sampling": {
                "smoothgrad": {"samples": SG_SAMPLES, "sigma": SG_SIGMA, "seed": SG_SEED},
                "integratedGradients": {"steps": IG_STEPS, "baseline": IG_BASELINE},
                "smoothgradcampp": {"samples": SGPP_SAMPLES, "sigma": SGPP_SIGMA, "seed": SGPP_SEED},
            },
            "expected": exp,
            "score_targets": scored,
        }
        text = json.dumps(fixture, separators=(",", ":"))

        # Check the export: the spec, as parsed back from the JSON, computes the same logits.
        back = json.loads(text)
        xb = torch.tensor(back["input"]["data"]).float().double().reshape(back["input"]["shape"])
        assert torch.equal(xb, x)
        lb = run_spec(back["graph"], xb)
        assert torch.allclose(lb, logits, rtol=0, atol=1e-12), (lb - logits).abs().max()

        path = os.path.join(OUT_DIR, f"{net.name}.json")
        with open(path, "w") as f:
            f.write(text + "\n")
        A = exp["activation"]["shape"]
        flat = {k: sum(1 for v in methods[k] if float(v["map"].max() - v["map"].min()) == 0) for k in methods if methods[k]}
        print(f"{net.name}: input {[1, C, H, W]}, layer {net.layer} {A}, targets {targets}, "
              f"logits {[round(v, 3) for v in logits[0].tolist()]}, constant maps {flat}, "
              f"{len(text) / 1024:.0f} KiB -> {os.path.relpath(path)}")
    # Several layers at once, on the nets above (graph and input in their own fixture files).
    path = os.path.join(OUT_DIR, "multilayer.json")
    with open(path, "w") as f:
        f.write(json.dumps({
            "version": version,
            "notes": {
                "nets": "per fixture net (its graph, input and targets in <net>.json): the listed layers, in the order explain() gets them",
                "gradients": "per layer, d y^c / d layer for every target [T, K, h, w], from one autograd call per target",
                "per_layer": "per method (gradcam, layercam) and layer: map, map_norm, map_up as in <net>.json",
                "fused": "'<method>:mean' and '<method>:layercam' [T, H, W]: see the docstring of tools/make_fixtures.py",
                "deepest": "the layer last in the net's node order (LayerCAM's rule leaves it untouched by tanh)",
            },
            "nets": multilayer,
        }, separators=(",", ":")) + "\n")
    listed = ", ".join(f"{k} {v['layers']}" for k, v in multilayer.items())
    print(f"multilayer: {listed} -> {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
