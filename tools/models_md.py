#!/usr/bin/python3
"""Render docs/MODELS.md from a run of the torchvision zoo test and the import-memory benchmark.

    npx vitest run test/model/onnx.test.ts                   # -> test-artifacts/onnx-zoo.json (written also when models fail)
    npm run bench:import-memory -- --out bench/results/import-memory.json
    npm run bench:import-memory -- --breakdown --out bench/results/import-memory-breakdown.json
    /usr/bin/python3 tools/models_md.py                      # -> docs/MODELS.md

Standard library only. Every figure in the page comes from those JSON files; the prose around
them is fixed here. See tools/README.md.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
ZOO = os.path.join(REPO, "test-artifacts", "onnx-zoo.json")
MEMORY = os.path.join(REPO, "bench", "results", "import-memory.json")
BREAKDOWN = os.path.join(REPO, "bench", "results", "import-memory-breakdown.json")
FROM_BYTES = os.path.join(REPO, "bench", "results", "import-memory-bytes.json")
OUT = os.path.join(REPO, "docs", "MODELS.md")


def e(v):
    return "—" if v is None else f"{v:.1e}"


def ms(v):
    return "—" if v is None else f"{v:,}".replace(",", " ")


def check(row, what):
    for c in row["checks"]:
        if c["what"] == what:
            return c
    return None


def rel(row, what):
    c = check(row, what)
    return e(c["relToMax"]) if c else "—"


def absolute(row, what):
    c = check(row, what)
    return e(c["maxAbsError"]) if c else "—"


def status(row):
    s = row["status"]
    if s == "mismatch":
        bad = [c["what"] for c in row["checks"] if not c["ok"]]
        return "mismatch: " + ", ".join(bad)
    if s.startswith("refused: "):
        return f"refused: `{s[len('refused: '):]}`"
    return s


def tensor(name):
    return f"`{name}`"


def zoo_section(z):
    rows = z["rows"]
    passed = sum(1 for r in rows if r["status"] == "pass")
    out = []
    a = z["adapter"]
    export = (
        f"; {z['exportRanSeconds']} s of it exporting the models and computing the oracle"
        if z.get("exportRanSeconds") is not None
        else " (the exports were up to date)"
    )
    out.append(
        f"Run of {z['date'][:10]} on {a['description']} ({a['vendor']}, {a['kind']} adapter): "
        f"{passed} of {len(rows)} models pass; the whole matrix took {z['matrixSeconds']} s{export}."
        + ("" if z["complete"] else " **Not every model ran in this run.**")
    )
    out.append("")
    out.append(
        "| model | status | input | opset | logits | Grad-CAM map | Grad-CAM normalised | layer: module → ONNX tensor [K, h, w] "
        "| forward ms | explain ms | changes to the architecture |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        L = r["layer"]
        shape = "×".join(str(v) for v in L["shape"])
        out.append(
            f"| {r['name']} | {status(r)} | {'×'.join(str(v) for v in r['input'][1:])} | {r['opset']} "
            f"| {rel(r, 'logits')} | {rel(r, 'gradcam map')} | {absolute(r, 'gradcam normalised')} "
            f"| `{L['module']}` → {tensor(L['tensor'])} [{shape}] | {ms(r['forwardMs'])} | {ms(r['explainMs'])} "
            f"| {r['changes'] or 'none'} |"
        )
    out.append("")
    out.append(
        "- **logits**, **Grad-CAM map**: the largest |error| over the tensor divided by its largest |value| "
        "(the comparison itself is `deepNetwork()` of `test/util/compare.ts`: 1e-4 relative, plus 1e-4 of the "
        "largest |value| absolute). **Grad-CAM normalised**: the largest |error| of the min–max normalised map "
        "(values in [0, 1]; allowed 5e-4, `DEEP_MAPS`)."
    )
    out.append(
        "- **forward**: one forward pass of one image; **explain**: `explain()` with `gradcam`, `gradcam++` and "
        "`guided-backprop` for one target (forward, a backward pass to the layer, a guided backward pass to the "
        "input, the maps), both wall-clock in Node with the kernels already compiled, results read back."
    )
    out.append(
        "- **layer**: the customary Grad-CAM layer, the last spatial activation before the spatial collapse "
        "(trailing pools skipped), named by its torchvision module; the ONNX tensor is the output of the last "
        "node in that module's scope. densenet121's `features` ends in `norm5`, before the `F.relu` that "
        "`DenseNet.forward` applies: the layer is `norm5`'s output (what a module hook sees)."
    )
    out.append("- Every model but resnet18 has `num_classes=10`; the input is 3 channels, batch 1.")
    out.append("")

    out.append("### More figures")
    out.append("")
    out.append(
        "| model | Grad-CAM++ map | Grad-CAM++ normalised | guided backprop | guided (relative L2) | load ms "
        "| first explain ms | ONNX MB | parameters | engine's default layer |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        g = check(r, "guided backprop")
        dl = r["defaultLayer"]
        default = "—" if dl is None else ("the same" if dl == r["layer"]["tensor"] else tensor(dl))
        out.append(
            f"| {r['name']} | {rel(r, 'gradcam++ map')} | {absolute(r, 'gradcam++ normalised')} "
            f"| {rel(r, 'guided backprop')} | {e(g['relL2']) if g else '—'} | {ms(r['loadMs'])} "
            f"| {ms(r['firstExplainMs'])} | {r['fileBytes'] / 1e6:.1f} | {r['parameters'] / 1e6:.1f} M | {default} |"
        )
    out.append("")
    out.append(
        "- **guided backprop**: largest |error| / largest |value| of the input gradient, and its relative L2 "
        "error, which is what the test bounds (2e-2, `GATE_FLIPS`): the guided gradient jumps where a gate's "
        "input lies within float32 rounding of its threshold, so an elementwise bound cannot hold on every adapter."
    )
    out.append(
        "- **first explain**: the same `explain()` the first time, kernels compiled on first use (the first "
        "model compiles most of them)."
    )
    out.append(
        "- **engine's default layer**: `Graph.defaultLayer()` (the last [N, C, H, W] tensor with h·w > 1 on the "
        "path to the scores, trailing pools skipped; docs/METHODS.md), where it differs from the customary layer."
    )
    out.append("")

    out.append("### ONNX operators")
    out.append("")
    out.append("| model | operators (nodes) |")
    out.append("|---|---|")
    for r in rows:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"| {r['name']} | {ops} |")
    out.append("")
    return out


def memory_section(m, b, mb=None):
    out = []
    out.append("## Host memory while importing a large model")
    out.append("")
    if m is None:
        out.append("No run of `npm run bench:import-memory` recorded (bench/results/import-memory.json).")
        out.append("")
        return out
    out.append(
        f"`npm run bench:import-memory` (bench/import_memory.ts) imports full torchvision vgg16 at 224×224 "
        f"(`{m['file']}`, {m['fileMB']:.1f} MB, exported by tools/export_bench_vgg16.py) with `loadOnnx` in "
        f"Node {m['node']} on {m['adapter']}, run of {m['date'][:10]}. RSS is sampled every 2 ms by a worker "
        "thread and read from the kernel's high-water mark; the baseline is the RSS with the engine created and "
        "the file not yet read. On SwiftShader the GPU buffers are host memory and count in the RSS."
    )
    out.append("")
    out.append("| run | peak RSS − baseline | ÷ file size | retained after the import ÷ file size |")
    out.append("|---|---|---|---|")
    for r in (m, mb, b):
        if r is not None:
            out.append(
                f"| {r['mode']} | {r['peakRssMB'] - r['baselineRssMB']:.0f} MB | {r['peakRatio']:.2f}× "
                f"| {r['retainedRatio']:.2f}× |"
            )
    out.append("")
    out.append(
        "The target is 2× the file size. On SwiftShader the upload's GPU buffers are host memory, one file "
        "size of it; on a GPU they are device memory, and the host side is what the conversion holds (below)."
    )
    out.append("")
    path_step = next((s for s in m["steps"] if s["step"].startswith("loadOnnx")), None) if m["mode"] == "loadOnnx(path)" else None
    out.append(
        "`loadOnnx(path)` reads the file piece by piece (`src/model/onnx_stream.ts`) and leaves its FLOAT "
        "initializers of 1 MiB or more in the file: the converted GraphSpec holds them as deferred weights "
        "(`src/defs/deferred.ts`), the converter's transformations of a weight (a BatchNormalization folded into "
        "the conv before it, Gemm's alpha, the transpose of Gemm with transB = 0 and of MatMul) applied where "
        "it is read. `Model.load` reads them one after the other into one scratch buffer allocated once and "
        "uploads them from there: a weight whose values go row by row (the file's rows, scaled rows) 16 MiB at "
        "a time, each piece uploaded, copied into place and submitted, a transposed one whole (a second buffer "
        "holds its transpose). So the host never holds the weights and their GPU buffers together: the peak "
        "is the GPU buffers (host memory on SwiftShader), the scratch and the engine's working memory. A model "
        "whose converter rule reads a large tensor value by value (a large constant operand) is converted "
        "again with every tensor read, and loaded as before, the spec's weights released as they are uploaded. "
        "`loadOnnx(bytes)` keeps the caller's bytes, which the weights are views of."
    )
    if path_step is not None:
        out.append("")
        out.append(
            f"At the end of the path import the ArrayBuffers hold {path_step['arrayBuffers']:.0f} MB (vgg16's "
            "Gemm weights are [M, K], transB = 1: no weight is transposed, every one is read 16 MiB at a time), "
            f"and the GPU weights {m['gpuWeightsMB']:.0f} MB."
        )
    out.append("")
    if b is not None:
        out.append(f"Where it goes (`--breakdown`: loadOnnx's three steps, figures in MB at the end of each):")
        out.append("")
        out.append("| step | RSS | peak RSS during it | V8 heap | ArrayBuffers |")
        out.append("|---|---|---|---|---|")
        for s in b["steps"]:
            out.append(
                f"| {s['step']} | {s['rss']:.0f} | {s['peakRss']:.0f} | {s['heapUsed']:.0f} | {s['arrayBuffers']:.0f} |"
            )
        out.append("")
        steps = {s["step"].split(" ")[0]: s for s in b["steps"]}
        fmb = b["fileMB"]
        notes = []
        dec = steps.get("decodeModel")
        if dec is not None:
            notes.append(
                f"- Decoding adds {max(dec['arrayBuffers'] - steps['file']['arrayBuffers'], 0):.0f} MB of ArrayBuffers: "
                "the tensors' `raw_data` stay views of the file's bytes."
            )
        conv = steps.get("convertGraph")
        if conv is not None:
            copies = conv["arrayBuffers"] / fmb
            line = f"- At the end of the conversion the ArrayBuffers hold {copies:.1f}× the file"
            if copies > 2.5:
                line += (
                    ": the file's bytes, every initializer copied by `tensorValues()` when the converter starts "
                    "(`onnx_convert.ts`), and each weight copied again by its op's rule (`Float32Array.from` in "
                    "Conv's, `scaledWeight` / `transposedWeight` in Gemm's, also for alpha = 1)."
                )
            else:
                line += "."
            notes.append(line)
        notes.append(
            f"- After the upload the Model {'still references' if b['modelKeepsSpecWeights'] else 'has released'} "
            f"the GraphSpec's weight arrays ({b['specWeightsMB']:.0f} MB of host memory), besides the GPU buffers "
            f"({b['gpuWeightsMB']:.0f} MB; host memory too on SwiftShader)."
        )
        out.append("\n".join(notes))
        out.append("")
    return out


def main():
    if not os.path.exists(ZOO):
        sys.exit(f"{ZOO} is missing: run `npx vitest run test/model/onnx.test.ts` first")
    with open(ZOO) as f:
        z = json.load(f)
    m = b = None
    if os.path.exists(MEMORY):
        with open(MEMORY) as f:
            m = json.load(f)
    if os.path.exists(BREAKDOWN):
        with open(BREAKDOWN) as f:
            b = json.load(f)
    mb = None
    if os.path.exists(FROM_BYTES):
        with open(FROM_BYTES) as f:
            mb = json.load(f)
    lines = [
        "# The torchvision zoo",
        "",
        "<!-- Generated by tools/models_md.py from test-artifacts/onnx-zoo.json (test/model/onnx.test.ts) and "
        "bench/results/import-memory*.json (npm run bench:import-memory); do not edit by hand. -->",
        "",
        "Every classification family of torchvision 0.14, with random weights, exported to ONNX by PyTorch "
        "(tools/export_torchvision.py), imported with `loadOnnx` and explained by the engine; logits, "
        "activations, gradients, Grad-CAM, Grad-CAM++ and guided backprop are compared with a float64 PyTorch "
        "oracle computed from the same float32 weights (tools/README.md describes the oracle, the weights and "
        "the export variants). A model the importer refuses fails its test with the operator it lacks.",
        "",
        "## The matrix",
        "",
    ]
    lines += zoo_section(z)
    lines += memory_section(m, b, mb)
    with open(OUT, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(f"models_md: wrote {os.path.relpath(OUT, REPO)} ({len(z['rows'])} models)")


if __name__ == "__main__":
    main()
