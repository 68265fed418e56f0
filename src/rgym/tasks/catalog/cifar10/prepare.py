"""Data for cifar10: a generated CIFAR-10-shaped image set (default) or CIFAR-10 itself (full).

Both give the agent the same files in `public/` (data/ in the workspace):

    train_images.npy  (N, 32, 32, 3) uint8, RGB      train_labels.npy  (N,) uint8, 0-9
    test_images.npy   (M, 32, 32, 3) uint8, RGB      README.txt        what is what

and keep the test labels in `private/` as dev.csv and test.csv (`id,label`). The id of a test
image is its row in test_images.npy. Dev and test images are mixed in one file in an order drawn
from `secret_seed` (this installation's key), so neither the order nor any message of the
grader tells which images `validate` scores.

**Generated (default).** CIFAR-10 cannot be had offline, so the default variant draws its own
32x32 RGB images of ten object shapes, each with a random pose (rotation, scale, slight
stretch, position), two random colours and a random fill texture, on a random background (a
colour gradient, low-frequency blotches, clutter strokes and dots), sometimes half hidden
behind an occluding bar, with sensor noise. Colours and textures are drawn independently of
the class, so only shape tells the classes apart (mean colour is at chance). Everything is
vectorised numpy: 60,000 images take a few seconds. The training images come from the task's
public seed; the test images from `secret_seed`, so nobody can regenerate them (and their
labels) from this code.

**Original (full).** `source` names the data set: a Hugging Face id (`uoft-cs/cifar10`, read
through `datasets`; needs the network the first time) or a local parquet file or folder in the
same schema (`img` {bytes, path} PNG, `label` int; files named *train* and *test*), e.g. an
offline mirror or the test fixture.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSES = (
    "disk",
    "ring",
    "triangle",
    "square",
    "star",
    "cross",
    "arrow",
    "crescent",
    "heart",
    "bowtie",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
SIZE = 32
CHUNK = 256  # images rendered at once: their arrays stay small


# --- shapes: signed distance (negative inside) in object units, the shape's radius about 1 ---


def _polygon(r, a, n: int, radius: float):
    """A regular n-gon with circumradius `radius`, one vertex on the +u axis."""
    sector = 2 * np.pi / n
    folded = np.mod(a + sector / 2, sector) - sector / 2
    return r * np.cos(folded) - radius * np.cos(np.pi / n)


def _box(u, v, half_u: float, half_v: float):
    return np.maximum(np.abs(u) - half_u, np.abs(v) - half_v)


def _disk_at(u, v, cu: float, cv: float, radius: float):
    return np.hypot(u - cu, v - cv) - radius


def _star(r, a, points: int = 5, inner: float = 0.45):
    sector = 2 * np.pi / points
    folded = np.abs(np.mod(a + sector / 2, sector) - sector / 2)  # in [0, sector/2]
    pu, pv = r * np.cos(folded), r * np.sin(folded)
    # the edge from the outer vertex (1, 0) to the inner vertex at angle sector/2
    bu, bv = inner * np.cos(sector / 2), inner * np.sin(sector / 2)
    eu, ev = bu - 1.0, bv
    norm = np.hypot(eu, ev)
    nu, nv = ev / norm, -eu / norm  # outward normal
    return (pu - 1.0) * nu + pv * nv


def shape_sdf(cls: int, u, v):
    r, a = np.hypot(u, v), np.arctan2(v, u)
    if cls == 0:  # disk
        return r - 0.9
    if cls == 1:  # ring
        return np.abs(r - 0.72) - 0.26
    if cls == 2:  # triangle
        return _polygon(r, a, 3, 1.15)
    if cls == 3:  # square
        return _polygon(r, a, 4, 1.0)
    if cls == 4:  # five-pointed star
        return _star(r, a, 5, 0.45)
    if cls == 5:  # plus-shaped cross
        return np.minimum(_box(u, v, 0.3, 1.0), _box(u, v, 1.0, 0.3))
    if cls == 6:  # arrow: a shaft and a triangular head
        shaft = _box(u + 0.45, v, 0.55, 0.2)
        head = np.maximum(0.1 - u, (np.abs(v) + 0.78 * (u - 1.0)) / 1.268)
        return np.minimum(shaft, head)
    if cls == 7:  # crescent: a disk with an offset disk cut out
        return np.maximum(r - 1.0, -_disk_at(u, v, 0.5, 0.0, 0.8))
    if cls == 8:  # heart: a square on its corner with two disks on its upper sides
        body = (np.abs(u) + np.abs(v + 0.05)) / np.sqrt(2) - 0.55
        lobes = np.minimum(_disk_at(u, v, -0.39, 0.34, 0.55), _disk_at(u, v, 0.39, 0.34, 0.55))
        return np.minimum(body, lobes)
    if cls == 9:  # bowtie: two triangles meeting at their tips
        return np.maximum(np.abs(u) - 1.0, (np.abs(v) - 0.9 * np.abs(u)) / 1.345)
    raise ValueError(f"no class {cls}")


@dataclass(frozen=True)
class Style:
    """How hard the images are: every nuisance the renderer draws, per image, from these
    ranges. The defaults are the task's (chosen with benchmarks/cifar_learning_curve.py, which
    also draws easier and harder variants)."""

    scale: tuple[float, float] = (7.0, 13.0)
    """The object's radius in pixels."""
    shift: float = 5.0
    """Largest offset of the object's centre from the image's centre, in pixels (the object
    stays at least about half inside the image)."""
    stretch: float = 0.12
    """Standard deviation of the log aspect ratio."""
    strokes: int = 4
    """Clutter strokes per image (at most; each present with an image-specific probability)."""
    dots: int = 5
    """Clutter dots per image (at most)."""
    clutter_alpha: tuple[float, float] = (0.3, 0.85)
    """Opacity of the clutter strokes and dots."""
    gradient: float = 0.5
    """Largest colour change across the background gradient (fraction of a random one)."""
    blotches: float = 0.15
    """Largest amplitude of the low-frequency background blotches."""
    occlusion: float = 0.3
    """Probability of an occluding bar across the object."""
    noise: float = 0.08
    """Largest standard deviation of the pixel noise (fraction of the range)."""
    contrast: float = 0.45
    """Smallest distance (RGB in [0, 1]) between object and mean background colour."""
    texture: float = 0.45
    """Largest contrast of the fill texture (0: plain fills)."""
    texture_freq: tuple[float, float] = (0.4, 1.2)
    """Spatial frequency of striped and checked fills (radians per pixel)."""


STYLE = Style()


# --- rendering: channel-first float32 in [0, 1] while drawing, (n, 3, 32, 32) ------------------

_YY, _XX = np.meshgrid(
    np.arange(SIZE, dtype=np.float32) + 0.5, np.arange(SIZE, dtype=np.float32) + 0.5, indexing="ij"
)  # pixel centres: row, column


def _coverage(sdf_pixels):
    """Anti-aliased coverage of a shape from its signed distance in pixels (in place)."""
    np.subtract(0.5, sdf_pixels, out=sdf_pixels)
    return np.clip(sdf_pixels, 0.0, 1.0, out=sdf_pixels)


def _colours(rng, n: int, k: int = 1):
    """Random RGB colours in [0, 1], shape (n, k, 3); saturation and brightness vary widely."""
    gamma = rng.uniform(0.5, 1.5, (n, k, 1)).astype(np.float32)
    return rng.random((n, k, 3), dtype=np.float32) ** gamma


def _upsample(grid):
    """(n, 3, g, g) -> (n, 3, 32, 32) by bilinear interpolation: smooth blotches."""
    g = grid.shape[-1]
    pos = (np.arange(SIZE) + 0.5) * g / SIZE - 0.5
    lo = np.clip(np.floor(pos).astype(int), 0, g - 1)
    hi = np.clip(lo + 1, 0, g - 1)
    w = np.clip(pos - lo, 0, 1).astype(np.float32)
    m = np.zeros((SIZE, g), np.float32)
    m[np.arange(SIZE), lo] += 1 - w
    m[np.arange(SIZE), hi] += w
    return m @ grid @ m.T


def _strokes(rng, n: int, k: int, width: tuple[float, float], length: float):
    """Coverage (n, k, 32, 32) of k random straight strokes (capsules) per image."""
    y0, x0 = (rng.uniform(-4, SIZE + 4, (2, n, k, 1, 1))).astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi, (n, k, 1, 1)).astype(np.float32)
    top = rng.uniform(length / 3, length, (n, k, 1, 1)).astype(np.float32)
    half_w = rng.uniform(*width, (n, k, 1, 1)).astype(np.float32) / 2
    py, px = _YY - y0, _XX - x0
    along = py * np.sin(ang) + px * np.cos(ang)  # projection on the stroke's direction
    t = np.clip(along, 0, top)
    # squared distance to the nearest point of the stroke: |p|^2 - 2 t (p.d) + t^2
    d2 = py * py + px * px - t * (2 * along - t)
    dist = np.sqrt(np.maximum(d2, 0, out=d2), out=d2)
    return _coverage(np.subtract(dist, half_w, out=dist))


def _dots(rng, n: int, k: int, radius: tuple[float, float]):
    cy, cx = rng.uniform(0, SIZE, (2, n, k, 1, 1)).astype(np.float32)
    r = rng.uniform(*radius, (n, k, 1, 1)).astype(np.float32)
    dy, dx = _YY - cy, _XX - cx
    dist = np.sqrt(dy * dy + dx * dx)
    return _coverage(np.subtract(dist, r, out=dist))


def _paint(img, cover, colour):
    """Blend `colour` ((n, 3) or (n, 3, 32, 32)) into img (in place) with coverage (n, 32, 32)."""
    if colour.ndim == 2:
        colour = colour[:, :, None, None]
    img += cover[:, None] * (colour - img)


def _paint_layers(img, covers, colours):
    """Blend k layers (coverage (n, k, 32, 32), colours (n, k, 3)) into img at once; where they
    overlap their colours are averaged (clutter: the order of strokes does not matter)."""
    n, k = covers.shape[:2]
    flat = covers.reshape(n, k, SIZE * SIZE)
    total = flat.sum(1)[:, None]  # (n, 1, 1024)
    mixed = colours.transpose(0, 2, 1) @ flat  # (n, 3, 1024)
    mixed /= np.maximum(total, 1.0)
    flat_img = img.reshape(n, 3, SIZE * SIZE)
    flat_img *= 1.0 - np.minimum(total, 1.0)
    flat_img += mixed


def render(labels: np.ndarray, rng: np.random.Generator, style: Style = STYLE) -> np.ndarray:
    """Images (n, 32, 32, 3) uint8 of the given classes; every other attribute drawn from rng."""
    out = np.empty((len(labels), SIZE, SIZE, 3), np.uint8)
    for start in range(0, len(labels), CHUNK):
        out[start : start + CHUNK] = _render_chunk(labels[start : start + CHUNK], rng, style)
    return out


def _render_chunk(labels: np.ndarray, rng: np.random.Generator, style: Style) -> np.ndarray:
    n = len(labels)
    f32 = np.float32

    def uniform(lo, hi, shape=n):
        return rng.uniform(lo, hi, shape).astype(f32)

    # background: a gradient between two colours, low-frequency blotches, then clutter
    bg = _colours(rng, n, 2)
    bg[:, 1] = bg[:, 0] + (bg[:, 1] - bg[:, 0]) * uniform(0, style.gradient, (n, 1))
    theta = uniform(0, 2 * np.pi, (n, 1, 1))
    ramp = ((_YY - 16) * np.sin(theta) + (_XX - 16) * np.cos(theta)) / 32 + 0.5
    img = bg[:, 0, :, None, None] + (bg[:, 1] - bg[:, 0])[:, :, None, None] * ramp[:, None]
    blotch = _upsample(rng.standard_normal((n, 3, 4, 4), dtype=f32))
    img += blotch * uniform(0.0, style.blotches, (n, 1, 1, 1))
    # clutter: strokes and dots, each present with an image-specific probability
    n_strokes, n_dots = style.strokes, style.dots
    strokes = _strokes(rng, n, n_strokes, (0.7, 2.2), 22.0)
    strokes *= rng.random((n, n_strokes, 1, 1)) < uniform(0.2, 0.9, (n, 1, 1, 1))
    dots = _dots(rng, n, n_dots, (0.6, 2.2))
    dots *= rng.random((n, n_dots, 1, 1)) < uniform(0.0, 0.8, (n, 1, 1, 1))
    clutter = np.concatenate([strokes, dots], axis=1)
    clutter *= uniform(*style.clutter_alpha, (n, n_strokes + n_dots, 1, 1))
    _paint_layers(img, clutter, _colours(rng, n, n_strokes + n_dots))

    # the object: pose, then its shape in object coordinates
    scale = uniform(*style.scale)  # pixels per object unit (about the radius)
    reach = np.minimum(style.shift, SIZE / 2 - 0.55 * scale)
    cy, cx = SIZE / 2 + uniform(-1, 1) * reach, SIZE / 2 + uniform(-1, 1) * reach
    rot = uniform(0, 2 * np.pi)
    stretch = np.exp(rng.normal(0, style.stretch, n)).astype(f32)
    dy, dx = _YY - cy[:, None, None], _XX - cx[:, None, None]
    cos, sin = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
    u = (dx * cos + dy * sin) / (scale * stretch)[:, None, None]
    v = (dy * cos - dx * sin) / (scale / stretch)[:, None, None]
    sdf = np.empty((n, SIZE, SIZE), f32)
    for cls in np.unique(labels):
        idx = labels == cls
        sdf[idx] = shape_sdf(int(cls), u[idx], v[idx])
    # object units to pixels (approximately: the stretch is mild)
    obj_cover = _coverage(sdf * scale[:, None, None])

    # its fill: two colours far enough from the background's, mixed by a random texture
    fg = _colours(rng, n, 2)
    bg_mean = bg.mean(1)
    for _ in range(8):  # redraw colours too close to the background: the object must show
        close = np.linalg.norm(fg[:, 0] - bg_mean, axis=-1) < style.contrast
        if not close.any():
            break
        fg[close] = _colours(rng, int(close.sum()), 2)
    fg[:, 1] = fg[:, 0] + (fg[:, 1] - fg[:, 0]) * uniform(0.0, style.texture, (n, 1))
    kind = rng.integers(0, 4, n)[:, None, None]
    freq = uniform(*style.texture_freq, (n, 1, 1))
    phi = uniform(0, 2 * np.pi, (n, 1, 1))
    texture = np.zeros((n, SIZE, SIZE), f32)  # kind 0: plain
    k = kind[:, 0, 0]
    texture[k == 1] = (0.5 + 0.5 * np.sin(freq * (_XX * np.cos(phi) + _YY * np.sin(phi))))[k == 1]
    texture[k == 2] = (np.sin(freq * _XX + phi) * np.sin(freq * _YY) > 0)[k == 2]
    texture[k == 3] = np.clip(0.5 + 0.5 * (u * np.cos(phi) + v * np.sin(phi)), 0, 1)[k == 3]
    fill = fg[:, 0, :, None, None] + (fg[:, 1] - fg[:, 0])[:, :, None, None] * texture[:, None]
    _paint(img, obj_cover, fill)

    # an occluding bar across part of the object, sometimes
    occluded = rng.random(n) < style.occlusion
    bar_ang = uniform(0, np.pi)
    offset = uniform(0.3, 0.9) * scale
    bar_half = uniform(0.15, 0.35) * scale
    across = dy * np.cos(bar_ang)[:, None, None] - dx * np.sin(bar_ang)[:, None, None]
    bar = _coverage(np.abs(across - offset[:, None, None]) - bar_half[:, None, None])
    _paint(img, bar * occluded[:, None, None], _colours(rng, n)[:, 0])

    # camera: brightness, contrast and noise
    img *= uniform(0.75, 1.2, (n, 1, 1, 1)) * 255
    img += uniform(-0.1, 0.1, (n, 1, 1, 1)) * 255 + 0.5
    img += rng.standard_normal(img.shape, dtype=f32) * uniform(0.0, style.noise, (n, 1, 1, 1)) * 255
    return np.clip(img, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n labels, each class n/10 times (one more for the first n % 10), in random order."""
    return rng.permutation(np.arange(n) % len(CLASSES)).astype(np.uint8)


# --- the original data set --------------------------------------------------------------------


def _decode(table) -> tuple[np.ndarray, np.ndarray]:
    """An arrow table with `img` {bytes, path} PNG and `label` -> (images, labels) arrays."""
    import io

    from PIL import Image

    images = np.empty((table.num_rows, SIZE, SIZE, 3), np.uint8)
    for i, cell in enumerate(table.column("img").to_pylist()):
        with Image.open(io.BytesIO(cell["bytes"])) as im:
            images[i] = np.asarray(im.convert("RGB").resize((SIZE, SIZE)))
    return images, np.asarray(table.column("label").to_numpy(), dtype=np.uint8)


def load_original(source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images, labels), "test": (images, labels)} from local parquet or the Hub."""
    path = Path(source).expanduser()
    if not path.exists():
        if "/" not in source:
            raise FileNotFoundError(f"{source!r} is neither a local path nor a Hugging Face id")
        return load_hub(source)
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    out = {}
    for split in ("train", "test"):
        mine = [f for f in files if split in f.name]
        if not mine:
            raise FileNotFoundError(f"no parquet file with {split!r} in its name in {path}")
        out[split] = _decode(pa.concat_tables(pq.read_table(f) for f in mine))
    return out


def load_hub(source: str, cache_dir: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The same through Hugging Face `datasets` (downloads on first use, then its cache)."""
    import datasets

    ds = datasets.load_dataset(source, cache_dir=cache_dir)
    return {split: _decode(ds[split].data.table) for split in ("train", "test")}


# --- the recipe -------------------------------------------------------------------------------


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    n_train: int = 50_000,
    n_test: int = 10_000,
    dev_frac: float = 0.5,
    source: str | None = None,
) -> None:
    seeds = np.random.default_rng(seed).integers(0, 2**63, size=3)
    if source is None:
        train_labels = balanced_labels(n_train, np.random.default_rng(seeds[0]))
        train_images = render(train_labels, np.random.default_rng(seeds[0] + 1))
        # the test images and their labels decide the score: drawn from the secret key
        test_rng = np.random.default_rng(secret_seed("test images", int(seeds[1])))
        test_labels = balanced_labels(n_test, test_rng)
        test_images = render(test_labels, test_rng)
        classes, about = CLASSES, _GENERATED_README
    else:
        original = load_original(source)
        train_images, train_labels = original["train"]
        test_images, test_labels = original["test"]
        classes, about = CIFAR10_CLASSES, _CIFAR10_README.format(source=source)
    # test images in a secret order; the first dev_frac of that order is the dev split
    order = np.random.default_rng(secret_seed("dev/test images", int(seeds[2]))).permutation(
        len(test_labels)
    )
    test_images, test_labels = test_images[order], test_labels[order]
    n_dev = int(round(len(test_labels) * dev_frac))
    split_rng = np.random.default_rng(secret_seed("dev rows", int(seeds[2]) + 1))
    is_dev = np.zeros(len(test_labels), bool)
    is_dev[split_rng.choice(len(test_labels), n_dev, replace=False)] = True

    np.save(public / "train_images.npy", np.ascontiguousarray(train_images))
    np.save(public / "train_labels.npy", train_labels.astype(np.uint8))
    np.save(public / "test_images.npy", np.ascontiguousarray(test_images))
    names = "\n".join(f"  {i} {c}" for i, c in enumerate(classes))
    (public / "README.txt").write_text(
        about + f"\nFiles (numpy .npy; load with np.load):\n"
        f"  train_images.npy  {train_images.shape} uint8, RGB, height x width x channel\n"
        f"  train_labels.npy  ({len(train_labels)},) uint8, the class of each training image\n"
        f"  test_images.npy   {test_images.shape} uint8: the images to classify; the id of an\n"
        f"                    image is its row (0 to {len(test_labels) - 1})\n"
        f"\nClasses:\n{names}\n"
    )
    ids = np.arange(len(test_labels))
    for name, rows in (("dev", is_dev), ("test", ~is_dev)):
        lines = "".join(
            f"{i},{label}\n" for i, label in zip(ids[rows], test_labels[rows], strict=True)
        )
        (private / f"{name}.csv").write_text("id,label\n" + lines)


_GENERATED_README = """\
Generated images in CIFAR-10's format: 32x32 RGB, ten classes, each image shows one object.
An object's class is its shape; its pose (rotation, scale, position), colours and fill texture
are random, as are the background (gradient, blotches, strokes, dots), an occluding bar (in
about a third of the images) and the noise. The classes are balanced.
"""

_CIFAR10_README = """\
CIFAR-10 (Krizhevsky, 2009; {source}): 32x32 RGB photographs, ten classes, balanced.
"""
