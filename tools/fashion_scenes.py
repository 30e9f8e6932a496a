#!/usr/bin/python3
"""Fashion scenes: cluttered RGB canvases made of Fashion-MNIST items, deterministic from a seed.

Run with Debian's interpreter (numpy, PIL):   /usr/bin/python3 tools/fashion_scenes.py --help

Each scene is an S x S RGB canvas (S = 96 by default) on a textured background (plain, gradient,
stripes, checker, smooth colour noise) with 1-4 Fashion-MNIST items drawn on it, each scaled
(the 28 x 28 source square becomes 20-56 px at S = 96), tinted and placed so that every item keeps
most of its pixels visible (a share of the scenes allows partial occlusion). The labels are
multi-label over the 10 Fashion-MNIST classes, and every item keeps its ground-truth box and its
visible mask. tools/README.md ("fashion_scenes.py") documents the on-disk format.

Subcommands:
  split    write one split (train / val / test) as images.u8 + instances.u8 + annotations.json
  samples  write the hand-picked demo scenes (PNG) and samples.json
  sprites  write per-class item sprites (RGBA PNG) and sprites.json for the demo's scene composer

Determinism: scene i of a split is drawn from numpy.random.default_rng([split_seed, i]) and
depends on nothing else (not on the number of scenes written), so the first 500 test scenes are
the same whatever --count is. Splits use disjoint source images (train: the Fashion-MNIST train
file; val: t10k images 0-4999; test: t10k images 5000-9999) and disjoint seeds.
"""

import argparse
import colorsys
import dataclasses
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

VERSION = "fashion_scenes.py 1.0.0"
FORMAT = "fashion-scenes/1"
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_DATA = os.path.join(ROOT, "data", "fashion-scenes")

LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
NUM_CLASSES = len(LABELS)

# Source images (Fashion-MNIST file part, [start, end) image indices) and scene seed per split.
SPLITS = {
    "train": {"part": "train", "range": (0, 60000), "seed": 1},
    "val": {"part": "t10k", "range": (0, 5000), "seed": 2},
    "test": {"part": "t10k", "range": (5000, 10000), "seed": 3},
}
# Demo samples and sprites come from the test part of t10k (never seen in training).
DEMO_SOURCE = "test"

BACKGROUNDS = ["plain", "gradient", "stripes", "checker", "noise"]
BACKGROUND_P = [0.08, 0.22, 0.25, 0.15, 0.30]

# Item appearance, shared by the generator and the sprites: the Fashion-MNIST intensity v in
# [0, 1] (after scaling) gives the opacity alpha = clip(ALPHA_GAIN * v, 0, 1) and the colour
# tint * (SHADE_BASE + (1 - SHADE_BASE) * v). The item's mask is v >= MASK_V (alpha >= 0.5).
ALPHA_GAIN = 4.0
SHADE_BASE = 0.35
MASK_V = 0.5 / ALPHA_GAIN
MIN_CONTRAST = 0.3  # RGB distance between an item's mean colour and the background under it


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Everything that shapes the random scenes (written into annotations.json)."""

    size: int = 96  # canvas side S, px
    min_items: int = 1
    max_items: int = 4
    item_min: float = 20.0  # side of the scaled 28 x 28 source square, px (at S = 96)
    item_max: float = 56.0
    aspect_jitter: float = 0.15  # width = side * U(1 - j, 1 + j)
    repeat_prob: float = 0.3  # scenes with >= 2 items: probability that >= 2 share one class
    occlusion_prob: float = 0.2  # probability that a scene allows partial occlusion
    min_visible: float = 0.9  # share of an item's mask that must stay visible (normal scenes)
    occluded_min_visible: float = 0.5  # the same in occlusion scenes
    noise_max: float = 0.04  # std of the per-pixel noise added to the finished canvas


# ----------------------------------------------------------------------------------------------
# Fashion-MNIST
# ----------------------------------------------------------------------------------------------


def load_fmnist(part, data_dir=FMNIST_DIR):
    """Images [N, 28, 28] uint8 and labels [N] uint8 of one Fashion-MNIST file part."""
    with gzip.open(os.path.join(data_dir, f"{part}-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    magic, n, h, w = struct.unpack(">IIII", raw[:16])
    if magic != 2051:
        raise ValueError(f"{part}-images: bad IDX magic {magic}")
    images = np.frombuffer(raw, np.uint8, count=n * h * w, offset=16).reshape(n, h, w)
    with gzip.open(os.path.join(data_dir, f"{part}-labels-idx1-ubyte.gz")) as f:
        raw = f.read()
    magic, m = struct.unpack(">II", raw[:8])
    if magic != 2049 or m != n:
        raise ValueError(f"{part}-labels: bad IDX header ({magic}, {m} labels for {n} images)")
    labels = np.frombuffer(raw, np.uint8, count=m, offset=8)
    return images, labels


class Sources:
    """The Fashion-MNIST images a split may draw from, indexed by class."""

    def __init__(self, split, data_dir=FMNIST_DIR):
        info = SPLITS[split]
        self.part = info["part"]
        images, labels = load_fmnist(self.part, data_dir)
        start, end = info["range"]
        self.images = images
        self.by_class = [start + np.flatnonzero(labels[start:end] == c) for c in range(NUM_CLASSES)]

    def pick(self, rng, c):
        return int(rng.choice(self.by_class[c]))


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------


def hsv(rng, s_range, v_range):
    h = rng.random()
    s = rng.uniform(*s_range)
    v = rng.uniform(*v_range)
    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32)


def resize_f(a, w, h):
    """Bilinear resize of a float32 2-D array to (h, w) (PIL, antialiased when shrinking)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, np.float32), "F").resize((w, h), Image.BILINEAR))


def background(rng, S, kind=None):
    """A textured background [S, S, 3] float32 in [0, 1] and its kind."""
    if kind is None:
        kind = str(rng.choice(BACKGROUNDS, p=BACKGROUND_P))
    c1 = hsv(rng, (0.0, 0.8), (0.1, 0.9))
    c2 = hsv(rng, (0.0, 0.8), (0.1, 0.9))
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    if kind == "plain":
        t = np.zeros((S, S), np.float32)
    elif kind == "gradient":
        t = (proj - proj.min()) / (proj.max() - proj.min())
    elif kind == "stripes":
        period = rng.uniform(5, 24)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * proj / period + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
    elif kind == "checker":
        cell = rng.uniform(5, 16)
        ox, oy = rng.uniform(0, cell, 2)
        t = ((np.floor((xx + ox) / cell) + np.floor((yy + oy) / cell)) % 2).astype(np.float32)
    elif kind == "noise":
        g = int(rng.integers(3, 13))
        t = np.clip(resize_f(rng.random((g, g), np.float32), S, S), 0, 1)
    else:
        raise ValueError(f"unknown background kind {kind!r}; known: {BACKGROUNDS}")
    img = c1 * (1 - t)[..., None] + c2 * t[..., None]
    return img.astype(np.float32), kind


def item_planes(img28, h, w, flip):
    """Scaled intensity v [h, w] (float32, [0, 1]) of a 28 x 28 source, and its mask v >= MASK_V."""
    v = img28.astype(np.float32) / 255.0
    if flip:
        v = v[:, ::-1]
    v = np.clip(resize_f(v, w, h), 0, 1)
    return v, v >= MASK_V


def tight_box(mask):
    """[x0, y0, x1, y1] (half-open) of the True pixels of a 2-D mask, or None."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return None
    return [int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1]


def paste(plane, x, y, S):
    """plane [h, w] placed with its top-left at (x, y) on an S x S zero canvas (cropped)."""
    h, w = plane.shape
    out = np.zeros((S, S), plane.dtype)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, S), min(y + h, S)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = plane[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------


def draw_classes(rng, cfg):
    n = int(rng.integers(cfg.min_items, cfg.max_items + 1))
    classes = [int(c) for c in rng.integers(0, NUM_CLASSES, n)]
    if n >= 2 and rng.random() < cfg.repeat_prob:
        k = int(rng.integers(2, n + 1))
        c = int(rng.integers(0, NUM_CLASSES))
        classes[:k] = [c] * k
        rng.shuffle(classes)
    return classes


def make_scene(rng, sources, cfg, classes=None, sides=None, occlusion=None, background_kind=None):
    """Draw one scene.

    classes: item classes in drawing order (default: random); sides: the scaled side of each
    item's source square in px (default: random in [item_min, item_max] scaled to S); occlusion:
    force (True) or forbid (False) an occlusion scene. Items that cannot be placed under the
    visibility rule are dropped (the annotations list only the items drawn).

    Returns (image [S, S, 3] uint8, instances [S, S] uint8, record dict).
    """
    S = cfg.size
    scale = S / 96.0
    if classes is None:
        classes = draw_classes(rng, cfg)
    if occlusion is None:
        occlusion = bool(rng.random() < cfg.occlusion_prob)
    min_visible = cfg.occluded_min_visible if occlusion else cfg.min_visible
    canvas, kind = background(rng, S, background_kind)
    bg = canvas.copy()

    items = []  # per item: record + canvas planes
    for i, c in enumerate(classes):
        src = sources.pick(rng, c)
        flip = bool(rng.random() < 0.5)
        side = sides[i] if sides is not None else rng.uniform(cfg.item_min, cfg.item_max) * scale
        aspect = rng.uniform(1 - cfg.aspect_jitter, 1 + cfg.aspect_jitter)
        placed = None
        for attempt in range(48):
            if attempt % 12 == 0:
                if attempt:
                    side = max(cfg.item_min * scale, side * 0.85)
                h = max(4, int(round(side)))
                w = max(4, int(round(side * aspect)))
                v, m = item_planes(sources.images[src], h, w, flip)
                box = tight_box(m)
                if box is None:
                    break
            # the item's mask must lie inside the canvas; the rest of the square may not
            lo_x, hi_x = -box[0], S - box[2]
            lo_y, hi_y = -box[1], S - box[3]
            if hi_x < lo_x or hi_y < lo_y:
                continue
            if occlusion and items and rng.random() < 0.7:
                # aim at an earlier item so that occlusion actually happens
                other = items[int(rng.integers(0, len(items)))]
                ox0, oy0, ox1, oy1 = other["box"]
                cx = (ox0 + ox1) / 2 + rng.uniform(-0.6, 0.6) * (ox1 - ox0)
                cy = (oy0 + oy1) / 2 + rng.uniform(-0.6, 0.6) * (oy1 - oy0)
                x = int(np.clip(round(cx - (box[0] + box[2]) / 2), lo_x, hi_x))
                y = int(np.clip(round(cy - (box[1] + box[3]) / 2), lo_y, hi_y))
            else:
                x = int(rng.integers(lo_x, hi_x + 1))
                y = int(rng.integers(lo_y, hi_y + 1))
            full = paste(m, x, y, S)
            if all((it["visible_mask"] & ~full).sum() >= min_visible * it["area"] for it in items):
                placed = (x, y, h, w, v, full)
                break
        if placed is None:
            continue
        x, y, h, w, v, full = placed
        alpha = paste(np.clip(v * ALPHA_GAIN, 0, 1), x, y, S)
        shade = paste(SHADE_BASE + (1 - SHADE_BASE) * v, x, y, S)
        # a tint that stands out from the background under the item
        under = bg[full].mean(axis=0)
        best, best_d = None, -1.0
        for _ in range(20):
            tint = hsv(rng, (0.25, 1.0), (0.5, 1.0))
            d = float(np.linalg.norm(tint * shade[full].mean() - under))
            if d > best_d:
                best, best_d = tint, d
            if d >= MIN_CONTRAST:
                break
        tint = best
        a = alpha[..., None]
        canvas = canvas * (1 - a) + (shade[..., None] * tint) * a
        for it in items:
            it["visible_mask"] &= ~full
        items.append(
            {
                "class": int(c),
                "label": LABELS[c],
                "source": src,
                "box": tight_box(full),
                "area": int(full.sum()),
                "square": [x, y, w, h],
                "flip": flip,
                "tint": [round(float(t), 3) for t in tint],
                "visible_mask": full.copy(),
            }
        )

    if cfg.noise_max > 0:
        canvas = canvas + rng.normal(0, rng.uniform(0, cfg.noise_max), canvas.shape).astype(np.float32)
    image = np.clip(np.round(canvas * 255), 0, 255).astype(np.uint8)

    instances = np.zeros((S, S), np.uint8)
    records = []
    for k, it in enumerate(items):
        vis = it.pop("visible_mask")
        instances[vis] = k + 1
        it["visibleBox"] = tight_box(vis)
        it["visibleArea"] = int(vis.sum())
        it["visible"] = round(it["visibleArea"] / it["area"], 4)
        records.append(it)
    record = {
        "classes": sorted({it["class"] for it in records}),
        "background": kind,
        "occlusion": occlusion,
        "items": records,
    }
    return image, instances, record


def scene_rng(split, index):
    return np.random.default_rng([SPLITS[split]["seed"], index])


def generate(split, count, cfg, start=0, sources=None, progress=True):
    """Scenes start..start+count-1 of a split: images [N,S,S,3], instances [N,S,S], records."""
    sources = sources or Sources(split)
    S = cfg.size
    images = np.zeros((count, S, S, 3), np.uint8)
    instances = np.zeros((count, S, S), np.uint8)
    records = []
    for n in tqdm(range(count), desc=f"{split} scenes", unit="scene", disable=not progress):
        i = start + n
        images[n], instances[n], rec = make_scene(scene_rng(split, i), sources, cfg)
        records.append({"index": i, **rec})
    return images, instances, records


def write_split(out_dir, split, count, cfg, start=0, preview=False, progress=True):
    """Write a split in the fashion-scenes/1 format (see tools/README.md)."""
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    images, instances, records = generate(split, count, cfg, start, progress=progress)
    images.tofile(os.path.join(out_dir, "images.u8"))
    instances.tofile(os.path.join(out_dir, "instances.u8"))
    info = SPLITS[split]
    meta = {
        "format": FORMAT,
        "generator": VERSION,
        "split": split,
        "seed": info["seed"],
        "source": {
            "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)",
            "part": info["part"],
            "range": list(info["range"]),
        },
        "count": count,
        "start": start,
        "height": cfg.size,
        "width": cfg.size,
        "channels": 3,
        "labels": LABELS,
        "files": {
            "images": {"name": "images.u8", "dtype": "uint8", "shape": [count, cfg.size, cfg.size, 3]},
            "instances": {"name": "instances.u8", "dtype": "uint8", "shape": [count, cfg.size, cfg.size]},
        },
        "config": dataclasses.asdict(cfg),
        "scenes": records,
    }
    with open(os.path.join(out_dir, "annotations.json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))
    if preview:
        contact_sheet(images[:16], records[:16]).save(os.path.join(out_dir, "preview.png"))
    return time.time() - t0


def read_split(out_dir):
    """(images [N,S,S,3] uint8, instances [N,S,S] uint8, annotations dict) of a written split."""
    with open(os.path.join(out_dir, "annotations.json")) as f:
        meta = json.load(f)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{out_dir}: format {meta.get('format')!r}, expected {FORMAT!r}")
    files = meta["files"]
    images = np.fromfile(os.path.join(out_dir, files["images"]["name"]), np.uint8)
    instances = np.fromfile(os.path.join(out_dir, files["instances"]["name"]), np.uint8)
    return (
        images.reshape(files["images"]["shape"]),
        instances.reshape(files["instances"]["shape"]),
        meta,
    )


def multi_hot(records):
    y = np.zeros((len(records), NUM_CLASSES), np.float32)
    for n, rec in enumerate(records):
        y[n, rec["classes"]] = 1
    return y


def draw_boxes(image, items, scale=1):
    img = Image.fromarray(image)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    d = ImageDraw.Draw(img)
    for it in items:
        x0, y0, x1, y1 = (v * scale for v in it["box"])
        d.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 255, 0))
        d.text((x0 + 2, y0 + 1), str(it["class"]), fill=(255, 255, 0))
    return img


def contact_sheet(images, records, cols=4, scale=2):
    S = images.shape[1] * scale
    rows = (len(images) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * S, rows * S))
    for n, (im, rec) in enumerate(zip(images, records)):
        sheet.paste(draw_boxes(im, rec["items"], scale), ((n % cols) * S, (n // cols) * S))
    return sheet


# ----------------------------------------------------------------------------------------------
# Demo samples and sprites
# ----------------------------------------------------------------------------------------------


def rle(mask):
    """Row-major run lengths of a boolean mask, starting with a run of False (may be 0)."""
    flat = mask.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0] + counts
    return counts


C = {name: i for i, name in enumerate(LABELS)}

# (name, description, classes, sides, occlusion, background, predicate). sides at S = 96.
SAMPLES = [
    ("single_sneaker", "One sneaker on a plain background.", ["Sneaker"], [50], False, "plain", None),
    ("single_bag", "One bag on stripes.", ["Bag"], [48], False, "stripes", None),
    ("single_dress_small", "One small dress on colour noise.", ["Dress"], [30], False, "noise", None),
    ("single_trouser", "One trouser on a checker background.", ["Trouser"], [52], False, "checker", None),
    (
        "two_classes_boot_tshirt",
        "Two different classes apart (the lecture's cat-and-dog case): an ankle boot and a T-shirt.",
        ["Ankle boot", "T-shirt/top"],
        [44, 44],
        False,
        "gradient",
        "apart",
    ),
    (
        "two_classes_trouser_bag",
        "Two different classes apart: a trouser and a bag.",
        ["Trouser", "Bag"],
        [46, 42],
        False,
        "noise",
        "apart",
    ),
    (
        "two_classes_sandal_pullover",
        "Two different classes apart: a sandal and a pullover.",
        ["Sandal", "Pullover"],
        [42, 46],
        False,
        "stripes",
        "apart",
    ),
    (
        "three_sneakers_sizes",
        "Three sneakers of very different sizes (the Grad-CAM++ multi-instance case).",
        ["Sneaker", "Sneaker", "Sneaker"],
        [54, 40, 30],
        False,
        "gradient",
        "apart",
    ),
    (
        "three_bags_sizes",
        "Three bags of different sizes (multi-instance).",
        ["Bag", "Bag", "Bag"],
        [50, 34, 24],
        False,
        "noise",
        "apart",
    ),
    (
        "three_trousers_sizes",
        "Three trousers of different sizes (multi-instance).",
        ["Trouser", "Trouser", "Trouser"],
        [50, 36, 26],
        False,
        "checker",
        "apart",
    ),
    (
        "occluded_coat",
        "A coat partly hidden behind a bag (occlusion).",
        ["Coat", "Bag"],
        [54, 40],
        True,
        "gradient",
        "occluded",
    ),
    (
        "occluded_boot",
        "An ankle boot partly hidden behind a shirt (occlusion).",
        ["Ankle boot", "Shirt"],
        [52, 42],
        True,
        "stripes",
        "occluded",
    ),
    (
        "shirt_and_tshirt",
        "Two easily confused classes: a shirt and a T-shirt.",
        ["Shirt", "T-shirt/top"],
        [44, 44],
        False,
        "plain",
        "apart",
    ),
    (
        "two_sneakers_and_bag",
        "Two sneakers and a bag: two instances of one class next to another class.",
        ["Sneaker", "Sneaker", "Bag"],
        [40, 30, 40],
        False,
        "noise",
        "apart",
    ),
    (
        "four_items_mixed",
        "Four different items on a busy background.",
        ["Dress", "Sandal", "Coat", "Bag"],
        [40, 34, 38, 32],
        False,
        "stripes",
        "all",
    ),
    (
        "three_dresses_crowded",
        "Three dresses, one partly covered (occlusion within a class).",
        ["Dress", "Dress", "Dress"],
        [46, 40, 34],
        True,
        "checker",
        "occluded",
    ),
]


def boxes_apart(items):
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if a["box"][0] < b["box"][2] and b["box"][0] < a["box"][2]:
                if a["box"][1] < b["box"][3] and b["box"][1] < a["box"][3]:
                    return False
    return True


def sample_ok(pred, n_wanted, items):
    if len(items) != n_wanted:
        return False
    if pred == "apart":
        return boxes_apart(items)
    if pred == "occluded":
        return any(0.5 <= it["visible"] <= 0.8 for it in items)
    return True


def write_samples(out_dir, cfg):
    """Hand-specified demo scenes, each from the first seed that satisfies its predicate."""
    os.makedirs(out_dir, exist_ok=True)
    sources = Sources(DEMO_SOURCE)
    entries = []
    for k, (name, desc, classes, sides, occl, bg, pred) in enumerate(tqdm(SAMPLES, desc="samples")):
        cls = [C[c] for c in classes]
        sides_s = [s * cfg.size / 96.0 for s in sides]
        for attempt in range(2000):
            rng = np.random.default_rng([100, k, attempt])
            image, instances, rec = make_scene(rng, sources, cfg, cls, sides_s, occl, bg)
            if sample_ok(pred, len(cls), rec["items"]):
                break
        else:
            raise RuntimeError(f"sample {name}: no seed satisfied {pred!r}")
        file = f"{k + 1:02d}_{name}.png"
        Image.fromarray(image).save(os.path.join(out_dir, file), optimize=True)
        items = []
        for j, it in enumerate(rec["items"]):
            items.append(
                {
                    "class": it["class"],
                    "label": it["label"],
                    "box": it["box"],
                    "visibleBox": it["visibleBox"],
                    "visible": it["visible"],
                    "mask": rle(instances == j + 1),
                }
            )
        entries.append(
            {
                "file": file,
                "name": name,
                "description": desc,
                "seed": [100, k, attempt],
                "background": rec["background"],
                "classes": rec["classes"],
                "items": items,
            }
        )
    meta = {
        "generator": VERSION,
        "width": cfg.size,
        "height": cfg.size,
        "labels": LABELS,
        "source": "Fashion-MNIST t10k images 5000-9999 (the test split's sources)",
        "notes": {
            "box": "[x0, y0, x1, y1] in pixels, half-open: the item covers columns x0..x1-1 and rows y0..y1-1; the tight box of the whole item (occluded parts included)",
            "visibleBox": "the same for the item's visible pixels",
            "visible": "visible pixels / item pixels",
            "mask": "the item's visible mask, row-major run lengths over height*width pixels, alternating background/item, starting with background (the first count may be 0)",
        },
        "samples": entries,
    }
    with open(os.path.join(out_dir, "samples.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return entries


def write_sprites(out_dir, per_class=3, side=56):
    """Per-class item sprites: RGBA PNGs (grey shading, alpha from intensity) and sprites.json."""
    os.makedirs(out_dir, exist_ok=True)
    sources = Sources(DEMO_SOURCE)
    rng = np.random.default_rng([200])
    entries = []
    for c in range(NUM_CLASSES):
        picks = rng.choice(sources.by_class[c], per_class, replace=False)
        for j, src in enumerate(sorted(int(p) for p in picks)):
            v, _ = item_planes(sources.images[src], side, side, False)
            rgba = np.zeros((side, side, 4), np.uint8)
            grey = np.round(255 * (SHADE_BASE + (1 - SHADE_BASE) * v)).astype(np.uint8)
            rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = grey
            rgba[..., 3] = np.round(255 * np.clip(v * ALPHA_GAIN, 0, 1)).astype(np.uint8)
            slug = LABELS[c].lower().replace("/", "-").replace(" ", "-")
            file = f"{c}_{slug}_{j}.png"
            Image.fromarray(rgba, "RGBA").save(os.path.join(out_dir, file), optimize=True)
            entries.append({"file": file, "class": c, "label": LABELS[c], "source": src})
    meta = {
        "generator": VERSION,
        "width": side,
        "height": side,
        "labels": LABELS,
        "source": "Fashion-MNIST t10k images 5000-9999 (the test split's sources)",
        "compose": (
            "Each sprite is the 28x28 source scaled to the sprite size. RGB = 255*(0.35 + 0.65*v), "
            "alpha = 255*clip(4*v, 0, 1), v = Fashion-MNIST intensity. To match the training "
            "scenes: scale the sprite (bilinear) so that its square is 20-56 px on a 96x96 canvas, "
            "multiply RGB by a tint colour, alpha-composite it over the background. The item's "
            "mask (for boxes) is alpha >= 128."
        ),
        "sprites": entries,
    }
    with open(os.path.join(out_dir, "sprites.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return entries


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    ps = sub.add_parser("split", help="write one split (images.u8, instances.u8, annotations.json)")
    ps.add_argument("--split", choices=sorted(SPLITS), required=True)
    ps.add_argument("--count", type=int, required=True, help="number of scenes")
    ps.add_argument("--start", type=int, default=0, help="index of the first scene (default 0)")
    ps.add_argument("--out", help=f"output directory (default {os.path.relpath(DEFAULT_DATA)}/<split>)")
    ps.add_argument("--size", type=int, default=96, help="canvas side in px (default 96)")
    ps.add_argument("--preview", action="store_true", help="also write preview.png (16 scenes, boxes)")
    for f in dataclasses.fields(SceneConfig):
        if f.name != "size":
            ps.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)

    pm = sub.add_parser("samples", help="write the demo sample scenes and samples.json")
    pm.add_argument("--out", default=os.path.join(ROOT, "weights", "samples"))
    pm.add_argument("--size", type=int, default=96)

    pp = sub.add_parser("sprites", help="write per-class RGBA sprites and sprites.json")
    pp.add_argument("--out", default=os.path.join(ROOT, "weights", "sprites"))
    pp.add_argument("--per-class", type=int, default=3)
    pp.add_argument("--side", type=int, default=56, help="sprite side in px (default 56)")

    a = p.parse_args(argv)
    if a.cmd == "split":
        cfg = SceneConfig(
            size=a.size, **{f.name: getattr(a, f.name) for f in dataclasses.fields(SceneConfig) if f.name != "size"}
        )
        out = a.out or os.path.join(DEFAULT_DATA, a.split)
        dt = write_split(out, a.split, a.count, cfg, a.start, a.preview)
        print(f"wrote {a.count} {a.split} scenes to {out} in {dt:.1f} s")
    elif a.cmd == "samples":
        entries = write_samples(a.out, SceneConfig(size=a.size))
        print(f"wrote {len(entries)} samples to {a.out}")
    else:
        entries = write_sprites(a.out, a.per_class, a.side)
        print(f"wrote {len(entries)} sprites to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
