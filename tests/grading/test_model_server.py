"""Model artefacts behind rgym's binary call server: a real grader in one sandbox asks a real
model in another for arrays, and every way a model can fail is a typed outcome."""

from __future__ import annotations

import io
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rgym.grading.runner import GradeStatus
from rgym.tasks.spec import load_task
from tests.tasks.conftest import requires_bwrap

sys.path.insert(0, str(Path(__file__).parents[2] / "src/rgym/grading/inside"))
import frames  # noqa: E402

GRADER = """
import numpy as np
import rgym_grade


def main(args):
    model = rgym_grade.remote_model("model/model.py")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = model.call("double", x, timeout=args.options.get("timeout", 20))
    if not isinstance(y, np.ndarray) or y.shape != x.shape:
        raise rgym_grade.Invalid(f"double() gave shape {getattr(y, 'shape', None)}")
    a, b = model.call("pair", x, timeout=20)
    ok = float(np.array_equal(y, 2 * x) and np.array_equal(a, x) and b.shape == ())
    return {"ok": ok, "seconds": model.seconds}


rgym_grade.run(main)
"""

GOOD = """
import numpy as np

def double(x):
    return x * 2

def pair(x):
    return x, 7
"""


@pytest.fixture(scope="module")
def model_task(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-task")
    (root / "grader").mkdir()
    (root / "grader/grade.py").write_text(GRADER)
    (root / "prepare.py").write_text(
        "def prepare(public, private, *, seed, variant, secret_seed, **options):\n    pass\n"
    )
    (root / "task.yaml").write_text(
        textwrap.dedent(
            """
            id: model-echo
            name: Model echo
            family: language
            description: Leave a model.
            variants:
              default:
                resources: {cpus: 1, memory_mb: 1024}
              tiny:
                data: {timeout: 2}
                resources: {cpus: 1, memory_mb: 1024}
            starter: null
            artifact: {path: model, kind: directory, entry: model.py}
            metric: {name: ok, direction: max}
            graders:
              dev: {script: grader/grade.py, timeout: 60}
              test: {script: grader/grade.py, timeout: 60}
            """
        )
    )
    return load_task(root)


def test_frames_round_trip_and_refuse_pickles():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    buf = io.BytesIO(frames.encode({"fn": "f"}, [a, np.float32(1.5)]))
    header, arrays = frames.read(buf)
    assert header == {"fn": "f", "n": 2}
    assert np.array_equal(arrays[0], a) and arrays[1] == np.float32(1.5)
    objs = io.BytesIO()
    np.save(objs, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    payload = objs.getvalue()
    head = b'{"n": 1}'
    raw = len(head).to_bytes(4, "big") + head + len(payload).to_bytes(8, "big") + payload
    with pytest.raises(frames.FrameError, match="not .npy"):
        frames.read(io.BytesIO(raw))
    with pytest.raises(frames.FrameError, match="header"):
        frames.read(io.BytesIO((1 << 30).to_bytes(4, "big")))
    with pytest.raises(frames.FrameError, match="bytes of arrays"):
        frames.read(io.BytesIO(frames.encode({}, [np.zeros(100)])), max_bytes=10)


@requires_bwrap
def test_a_model_answers_with_arrays(grade_files, model_task):
    g = grade_files(model_task, {"model/model.py": GOOD}, variant="default")
    assert g.status == GradeStatus.ok, g.message
    assert g.score == 1.0


@requires_bwrap
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"model/other.py": GOOD}, "model/model.py is missing"),
        ({"model/model.py": "raise RuntimeError('boom at import')"}, "boom at import"),
        ({"model/model.py": "def pair(x):\n    return x, x\n"}, "defines no function double"),
        ({"model/model.py": "def double(x):\n    raise ValueError('bad x')\n"}, "bad x"),
        ({"model/model.py": "def double(x):\n    return 'text'\n"}, "not arrays"),
        ({"model/model.py": "import os\ndef double(x):\n    os._exit(3)\n"}, "exited"),
        (
            {"model/model.py": "import time\ndef double(x):\n    time.sleep(30)\n"},
            "did not answer in time",
        ),
        (
            {"model/model.py": 'def double(x):\n    return len(b"x" * 2**31)\n'},
            "exited",  # the model's sandbox has its own memory limit (1 GiB here)
        ),
    ],
    ids=["no-entry", "import-error", "no-function", "raises", "not-arrays", "exit", "slow", "oom"],
)
def test_every_failure_of_a_model_is_typed(grade_files, model_task, files, expected):
    start = time.monotonic()
    # tiny: 2 s per call, so the slow model is stopped soon; the others get the default's 20 s
    slow = "sleep" in files.get("model/model.py", "")
    g = grade_files(model_task, files, variant="tiny" if slow else "default")
    assert g.status == GradeStatus.invalid_artifact, (g.status, g.message, g.detail)
    assert expected in g.message
    assert time.monotonic() - start < 45


@requires_bwrap
def test_the_model_sees_neither_the_grader_nor_the_tasks_private_paths(grade_files, model_task):
    hidden = "/usr/share/doc"  # visible in every sandbox unless a task hides it
    assert any(Path(hidden).iterdir())
    spec = model_task.model_copy(deep=True)
    spec.data.private_paths = [hidden]
    probe = f"""
import os
def double(x):
    seen = [p for p in ("/grader", "/private", "/artifact") if os.path.exists(p)]
    if seen or os.listdir({hidden!r}):
        raise RuntimeError("saw " + ", ".join(seen) + str(os.listdir({hidden!r}))[:200])
    return x * 2
def pair(x):
    return x, 7
"""
    g = grade_files(spec, {"model/model.py": probe}, variant="default")
    assert g.status == GradeStatus.ok, g.message
    assert g.score == 1.0
    # the same probe without the task's private path sees it
    g = grade_files(model_task, {"model/model.py": probe}, variant="default")
    assert g.status == GradeStatus.invalid_artifact and "saw" in g.message
