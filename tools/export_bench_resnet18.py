#!/usr/bin/python3
"""ResNet-18 (torchvision, random weights) exported to ONNX at 3x224x224 for `npm run bench`.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-onnx):

    /usr/bin/python3 tools/export_bench_resnet18.py [OUT]   (default: bench/.cache/resnet18_224.onnx)

bench/cli.ts runs it when the file is missing. No pretrained weights can be downloaded here, so
the weights are drawn with a fixed seed; BatchNorm gets random running statistics and affine
parameters and is folded into the convs by the exporter (eval mode). The file is about 45 MB
and is not committed.
"""

import os
import sys

import torch
import torch.nn as nn
import torchvision

SEED = 20241126


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "bench", ".cache", "resnet18_224.onnx")
    torch.manual_seed(SEED)
    model = torchvision.models.resnet18(weights=None)
    gen = torch.Generator().manual_seed(SEED)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
    model.eval()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    torch.onnx.export(
        model,
        torch.zeros(1, 3, 224, 224),
        tmp,
        opset_version=13,
        input_names=["image"],
        output_names=["logits"],
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )
    os.replace(tmp, out)
    print(f"wrote {out} ({os.path.getsize(out) / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
