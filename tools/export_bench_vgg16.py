#!/usr/bin/python3
"""Full torchvision vgg16 (random weights) exported to ONNX at 3x224x224, for the import-memory
benchmark (`npm run bench:import-memory`, bench/import_memory.ts).

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-onnx):

    /usr/bin/python3 tools/export_bench_vgg16.py [OUT]   (default: bench/.cache/vgg16_224.onnx)

bench/import_memory.ts runs it when the file is missing. The architecture is torchvision's,
unchanged: 13 convs, 5 max-pools, adaptive pool to 7x7 (an identity at 224x224, exported as
such), classifier 25088 -> 4096 -> 4096 -> 1000; 138 M parameters, about 553 MB of float32
weights, nearly all of them (about 490 MB) in the first two linear layers. Weights are drawn
with a fixed seed (no pretrained weights can be downloaded here); the file is not committed.
"""

import os
import sys
import time

import torch
import torchvision

SEED = 20241201


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "bench", ".cache", "vgg16_224.onnx")
    t0 = time.time()
    torch.manual_seed(SEED)
    model = torchvision.models.vgg16(weights=None).eval()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            torch.zeros(1, 3, 224, 224),
            tmp,
            opset_version=13,
            input_names=["input"],
            output_names=["logits"],
            do_constant_folding=True,
        )
    os.replace(tmp, out)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB) in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
