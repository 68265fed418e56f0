"""Image captioning data: generated scenes of coloured shapes (default, tiny) or MS-COCO (full).

Both give the agent the same files (mounted read-only at `data/`):

- `train_images.npy`: uint8 [N, S, S, 3] RGB; `train.csv`: `id,caption_1,...,caption_5`, row i
  describing image i;
- `test_images.npy`: uint8 [M, S, S, 3]; `test.csv`: `id`, row i naming image i.

The five reference captions of the test images stay private (`dev.csv`, `test.csv`:
`id,caption_1,...,caption_5`). test_images.npy mixes the dev images (scored by `validate`) and the
test images (the final score); which are which is drawn from `secret_seed`.

**Generated scenes.** Each 64x64 image shows one or two shapes (circle, square, triangle,
diamond, cross) in one of seven colours and two sizes, on a tinted, noisy background. One shape
is described by where it is (nine places: "in the top left corner", "in the middle", ...); two
shapes by how they stand to each other ("to the left of", "above", ...; the layout makes the
relation unambiguous). Every attribute is drawn uniformly and independently, so captions cannot
be guessed without looking: a constant caption matches little more than the function words
(BLEU-4 about 0.19), a caption that states each scene exactly in one fixed phrasing about 0.69.
The five references of an image are distinct paraphrases from a small grammar: word
order (A left of B / B right of A), synonyms (small/little, above/over, ...), templates ("there
is ...", "... is ...") and optional adjectives (size or colour left out), as people describing
the same picture would. The training scenes come from the task's public seed; the dev and test
scenes, and which of them is which, from `secret_seed` (this installation's key), so they cannot
be regenerated from this code.

**MS-COCO (full).** Images and captions come through Hugging Face `datasets` from
`lmms-lab/COCO-Caption` (COCO 2014 val, 40,504 photos; a parquet dataset whose rows have `image`
(an image), `answer` (a list of at least five human captions), `question_id` (the COCO file name),
`question`, `id`, `license`, `file_name`, `coco_url`, `height`, `width`, `date_captured`); only
`image` and `answer` are read, the first five captions kept. Images are resized (squashed) to
`image_size` square. `path` points at a local copy of the same layout instead (a folder with the
dataset's README.md and `data/val-*.parquet`), so tests need no network.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import numpy as np

N_REFS = 5
SIZE = 64  # pixels of a generated image

SHAPES = ("circle", "square", "triangle", "diamond", "cross")
COLOURS = {
    "red": (220, 45, 45),
    "green": (45, 170, 70),
    "blue": (50, 90, 230),
    "yellow": (235, 215, 50),
    "purple": (150, 70, 190),
    "orange": (245, 140, 35),
    "white": (240, 240, 240),
}
COLOUR_NAMES = tuple(COLOURS)
RADIUS = {"small": (4.5, 6.5), "large": (10.0, 13.0)}  # half-extent of a shape, in pixels
SIZE_NAMES = tuple(RADIUS)
RELATIONS = ("left", "right", "above", "below")  # of the first shape, relative to the second
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
PLACES = (
    "top left",
    "top",
    "top right",
    "left",
    "middle",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)

# --- the caption grammar ------------------------------------------------------------------------

SIZE_WORDS = {"small": ("small", "little"), "large": ("large", "big")}
COLOUR_WORDS = {c: (c,) for c in COLOURS} | {"purple": ("purple", "violet")}
SHAPE_WORDS = {
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"),
    "cross": ("cross", "plus sign"),
}
RELATION_WORDS = {
    "left": ("to the left of", "left of", "on the left of"),
    "right": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
}
PLACE_WORDS = {
    "top left": ("in the top left corner", "in the upper left corner", "at the top left"),
    "top": ("at the top", "near the top", "at the top of the image"),
    "top right": ("in the top right corner", "in the upper right corner", "at the top right"),
    "left": ("on the left", "on the left side", "at the left"),
    "middle": ("in the middle", "in the center", "in the centre"),
    "right": ("on the right", "on the right side", "at the right"),
    "bottom left": ("in the bottom left corner", "in the lower left corner", "at the bottom left"),
    "bottom": ("at the bottom", "near the bottom", "at the bottom of the image"),
    "bottom right": (
        "in the bottom right corner",
        "in the lower right corner",
        "at the bottom right",
    ),
}
PAIR_TEMPLATES = (
    "{x} {rel} {y}",
    "{x} is {rel} {y}",
    "there is {x} {rel} {y}",
    "{x} sits {rel} {y}",
)
ONE_TEMPLATES = ("{x} {place}", "{x} is {place}", "there is {x} {place}", "{place} there is {x}")
KEEP_SIZE, KEEP_COLOUR = 0.75, 0.9  # chance that a caption mentions a shape's size / colour


def noun_phrase(shape: str, colour: str, size: str, rng: random.Random) -> str:
    """'a small red circle', or with the size or colour left out, or a synonym."""
    words = []
    if rng.random() < KEEP_SIZE:
        words.append(rng.choice(SIZE_WORDS[size]))
    if rng.random() < KEEP_COLOUR:
        words.append(rng.choice(COLOUR_WORDS[colour]))
    words.append(rng.choice(SHAPE_WORDS[shape]))
    return ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)


def describe(scene: dict, rng: random.Random) -> str:
    """One caption of a scene, drawn from the grammar."""
    objs = scene["objects"]
    if len(objs) == 1:
        x = noun_phrase(*objs[0], rng)
        place = rng.choice(PLACE_WORDS[scene["place"]])
        return rng.choice(ONE_TEMPLATES).format(x=x, place=place)
    first, second, rel = objs[0], objs[1], scene["relation"]
    if rng.random() < 0.5:  # the same picture, told from the other shape
        first, second, rel = second, first, INVERSE[rel]
    x, y = noun_phrase(*first, rng), noun_phrase(*second, rng)
    return rng.choice(PAIR_TEMPLATES).format(x=x, rel=rng.choice(RELATION_WORDS[rel]), y=y)


def references(scene: dict, rng: random.Random, n: int = N_REFS) -> list[str]:
    """`n` distinct captions of a scene (as people describing the same picture would)."""
    out: list[str] = []
    for _ in range(50 * n):
        c = describe(scene, rng)
        if c not in out:
            out.append(c)
            if len(out) == n:
                return out
    return (out * n)[:n]  # the grammar has fewer forms than asked for (never for n = 5)


# --- scenes -------------------------------------------------------------------------------------


def sample_layout(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Attributes and positions of n scenes: shapes in slots 0 and 1 (slot 1 unused when
    `count` is 1). Every attribute is uniform and independent of the others."""
    count = np.where(rng.random(n) < 0.7, 2, 1)
    shape = rng.integers(len(SHAPES), size=(n, 2))
    colour = rng.integers(len(COLOURS), size=(n, 2))
    size = rng.integers(len(SIZE_NAMES), size=(n, 2))
    same = (shape[:, 0] == shape[:, 1]) & (colour[:, 0] == colour[:, 1])
    size[same, 1] = 1 - size[same, 0]  # two shapes never look alike
    lo = np.array([RADIUS[s][0] for s in SIZE_NAMES])[size]
    hi = np.array([RADIUS[s][1] for s in SIZE_NAMES])[size]
    radius = lo + (hi - lo) * rng.random((n, 2))
    relation = rng.integers(len(RELATIONS), size=n)
    place = rng.integers(len(PLACES), size=n)
    centre = np.zeros((n, 2, 2))  # [scene, slot, (x, y)]

    # One shape: the place decides the centre; a small jitter keeps it inside its ninth.
    r = radius[:, 0]
    jitter = rng.uniform(0, 3, (n, 2))
    low, high = r[:, None] + 1 + jitter, SIZE - 1 - r[:, None] - jitter
    mid = SIZE / 2 + rng.uniform(-3, 3, (n, 2))
    col, row = place % 3, place // 3
    for axis, which in ((0, col), (1, row)):
        centre[:, 0, axis] = np.choose(which, [low[:, axis], mid[:, axis], high[:, axis]])

    # Two shapes: side by side along the relation's axis, apart by a gap, never overlapping;
    # across that axis they are offset by at most a third of their distance.
    two = count == 2
    r0, r1 = radius[:, 0], radius[:, 1]
    first_is_0 = (relation == 0) | (relation == 2)  # slot 0 is left of / above slot 1
    ra = np.where(first_is_0, r0, r1)  # the shape with the smaller coordinate
    rb = np.where(first_is_0, r1, r0)
    room = SIZE - 2 - 2 * ra - 2 * rb  # what is left along the axis
    gap = 2 + (room - 2) * rng.random(n)
    start = 1 + (room - gap) * rng.random(n)
    ca = start + ra
    cb = ca + ra + gap + rb
    across_a = ra + 1 + (SIZE - 2 - 2 * ra) * rng.random(n)
    offset = (cb - ca) * rng.uniform(-1 / 3, 1 / 3, n)
    across_b = np.clip(across_a + offset, rb + 1, SIZE - 1 - rb)
    pa = np.stack([ca, across_a], 1)  # (along, across) of the shape with the smaller coordinate
    pb = np.stack([cb, across_b], 1)
    horizontal = (relation < 2)[:, None]
    for slot, p in (
        (0, np.where(first_is_0[:, None], pa, pb)),
        (1, np.where(first_is_0[:, None], pb, pa)),
    ):
        xy = np.where(horizontal, p, p[:, ::-1])  # (along, across) -> (x, y)
        centre[two, slot] = xy[two]
    return {
        "count": count,
        "shape": shape,
        "colour": colour,
        "size": size,
        "radius": radius,
        "relation": relation,
        "place": place,
        "centre": centre,
    }


def shape_mask(kind: int, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Pixels inside shapes of one kind; dx, dy: [n, S, S] offsets from their centres."""
    adx, ady = np.abs(dx), np.abs(dy)
    if SHAPES[kind] == "circle":
        return dx * dx + dy * dy <= r * r
    if SHAPES[kind] == "square":  # about the circle's area
        return np.maximum(adx, ady) <= 0.85 * r
    if SHAPES[kind] == "triangle":  # apex up
        return (dy >= -r) & (dy <= 0.8 * r) & (adx <= (dy + r) / 1.8)
    if SHAPES[kind] == "diamond":
        return adx + ady <= 1.15 * r
    return ((adx <= r / 3) & (ady <= r)) | ((ady <= r / 3) & (adx <= r))  # cross


def render(layout: dict[str, np.ndarray], rng: np.random.Generator, chunk: int = 1000):
    """uint8 [n, 64, 64, 3] images of the scenes: a tinted grey background with pixel noise, the
    shapes in their colours (each jittered a little)."""
    n = len(layout["count"])
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    palette = np.array(list(COLOURS.values()), np.int16)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        m = e - s
        base = rng.integers(40, 111, (m, 1, 1, 1)) + rng.integers(-20, 21, (m, 1, 1, 3))
        img = rng.integers(-18, 19, (m, SIZE, SIZE, 3), dtype=np.int16)  # pixel noise
        img += base.astype(np.int16)
        for slot in (0, 1):
            mask = np.zeros((m, SIZE, SIZE), bool)
            for kind in range(len(SHAPES)):
                rows = np.flatnonzero(
                    (layout["count"][s:e] > slot) & (layout["shape"][s:e, slot] == kind)
                )
                cx, cy = layout["centre"][s + rows, slot].T.astype(np.float32)[:, :, None, None]
                r = layout["radius"][s + rows, slot].astype(np.float32)[:, None, None]
                mask[rows] = shape_mask(kind, xx - cx, yy - cy, r)
            colour = palette[layout["colour"][s:e, slot]] + rng.integers(-15, 16, (m, 3))
            img = np.where(mask[..., None], colour[:, None, None, :].astype(np.int16), img)
        out[s:e] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def scenes(layout: dict[str, np.ndarray]) -> list[dict]:
    """The words of each scene: its shapes as (shape, colour, size), and its place or relation."""
    out = []
    for i in range(len(layout["count"])):
        objs = [
            (
                SHAPES[layout["shape"][i, k]],
                COLOUR_NAMES[layout["colour"][i, k]],
                SIZE_NAMES[layout["size"][i, k]],
            )
            for k in range(layout["count"][i])
        ]
        out.append(
            {
                "objects": objs,
                "place": PLACES[layout["place"][i]],
                "relation": RELATIONS[layout["relation"][i]],
            }
        )
    return out


def generate(n: int, seed: int) -> tuple[np.ndarray, list[list[str]]]:
    """n images and their five reference captions each, fully determined by `seed`."""
    rng = np.random.default_rng(seed)
    layout = sample_layout(n, rng)
    images = render(layout, rng)
    words = random.Random(int(rng.integers(2**63)))  # scalar draws: much faster than numpy's
    captions = [references(s, words) for s in scenes(layout)]
    return images, captions


# --- MS-COCO (full) -----------------------------------------------------------------------------

COCO_DATASET = "lmms-lab/COCO-Caption"


def clean(caption: object) -> str:
    """One line, single spaces (a few COCO captions hold newlines or doubled spaces)."""
    return " ".join(str(caption).split())


def load_coco(
    dataset: str, split: str, path: str | None, image_size: int, max_images: int | None
) -> tuple[np.ndarray, list[list[str]]]:
    """Images (resized to image_size square) and their first five captions, in dataset order.

    Streams the rows, so neither the hub's parquet files nor an Arrow cache are kept on disk."""
    from datasets import load_dataset

    from rgym.errors import DataUnavailable

    source = str(Path(path).expanduser().resolve()) if path else dataset
    with tempfile.TemporaryDirectory() as cache:  # a local copy leaves nothing in ~/.cache
        try:
            rows = load_dataset(
                source, split=split, streaming=True, cache_dir=cache if path else None
            )
        except Exception as e:  # no network, no such dataset or split, a broken local copy
            raise DataUnavailable(f"could not open {source!r} (split {split!r}): {e}") from None
        return read_rows(rows, source, split, image_size, max_images)


def read_rows(rows, source: str, split: str, image_size: int, max_images: int | None):
    from PIL import Image

    from rgym.errors import DataUnavailable

    names = rows.column_names  # None when the dataset does not declare its columns
    missing = {"image", "answer"} - set(names or ["image", "answer"])
    if missing:
        raise DataUnavailable(
            f"{source!r} has no column(s) {sorted(missing)}; expected the schema of "
            f"{COCO_DATASET} (`image`: an image, `answer`: a list of captions)"
        )
    images, captions = [], []
    for row in rows.select_columns(["image", "answer"]):
        caps = [c for c in (clean(a) for a in row["answer"] or []) if c]
        if len(caps) < N_REFS:
            continue  # every COCO image has five or more; skip a damaged row
        img = row["image"].convert("RGB").resize((image_size, image_size), Image.BICUBIC)
        images.append(np.asarray(img, np.uint8))
        captions.append(caps[:N_REFS])
        if max_images and len(images) >= max_images:
            break
    if not images:
        raise DataUnavailable(f"{source!r} (split {split!r}) holds no image with five captions")
    return np.stack(images), captions


# --- the recipe ---------------------------------------------------------------------------------


def write_captions(file: Path, ids: list[str], captions: list[list[str]]) -> None:
    import pandas as pd

    cols = {f"caption_{k + 1}": [c[k] for c in captions] for k in range(N_REFS)}
    pd.DataFrame({"id": ids, **cols}).to_csv(file, index=False)


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    source: str = "shapes",
    train_size: int = 8000,
    eval_size: int = 2000,
    dataset: str = COCO_DATASET,
    split: str = "val",
    path: str | None = None,
    image_size: int = 128,
    max_images: int | None = None,
) -> None:
    """Write the agent's files to `public` and the hidden references to `private`.

    shapes: `train_size` training scenes from the task seed and `eval_size` dev+test scenes from
    `secret_seed`. coco: the images of `dataset`/`split` (or the local copy at `path`), of which
    `eval_size` (picked by the task seed) become dev+test. Either way half of the evaluation
    images, drawn by `secret_seed`, are dev and the others test."""
    if source == "shapes":
        train_images, train_caps = generate(train_size, seed)
        eval_images, eval_caps = generate(eval_size, secret_seed("dev/test scenes", seed + 1))
    elif source == "coco":
        images, caps = load_coco(dataset, split, path, image_size, max_images)
        if len(images) < 2 * eval_size:
            eval_size = len(images) // 4  # a small local copy (tests): keep most for training
        order = np.random.default_rng(seed).permutation(len(images))
        ev, tr = order[:eval_size], np.sort(order[eval_size:])
        train_images, train_caps = images[tr], [caps[i] for i in tr]
        eval_images, eval_caps = images[ev], [caps[i] for i in ev]
    else:
        raise ValueError(f"source must be 'shapes' or 'coco', not {source!r}")

    n_train, n_eval = len(train_images), len(eval_images)
    np.save(public / "train_images.npy", train_images)
    write_captions(public / "train.csv", [f"train-{i:05d}" for i in range(n_train)], train_caps)
    test_ids = [f"test-{i:05d}" for i in range(n_eval)]
    np.save(public / "test_images.npy", eval_images)
    (public / "test.csv").write_text("id\n" + "".join(f"{i}\n" for i in test_ids))

    # Which evaluation images are dev and which test decides the test score: a secret.
    mix = secret_seed("dev/test images", seed + 2)
    is_dev = np.zeros(n_eval, bool)
    is_dev[np.random.default_rng(mix).permutation(n_eval)[: n_eval // 2]] = True
    for name, rows in (("dev", np.flatnonzero(is_dev)), ("test", np.flatnonzero(~is_dev))):
        write_captions(
            private / f"{name}.csv", [test_ids[i] for i in rows], [eval_caps[i] for i in rows]
        )
