"""Which GPUs a sandbox gets: rgym's choice, the nodes bound, and a clear refusal without."""

from __future__ import annotations

import pytest

import rgym
from rgym.sandbox import gpu
from rgym.tasks.spec import load_task


@pytest.fixture
def dev(tmp_path):
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "nvidia2", "null"):
        (tmp_path / name).touch()
    return tmp_path


def test_visible_gpus_are_the_numbered_nodes_or_cuda_visible_devices(dev, tmp_path_factory):
    assert gpu.visible({}, dev) == ["0", "1", "2"]
    assert gpu.visible({"CUDA_VISIBLE_DEVICES": "2,0"}, dev) == ["2", "0"]
    assert gpu.visible({"CUDA_VISIBLE_DEVICES": ""}, dev) == []
    assert gpu.visible({"CUDA_VISIBLE_DEVICES": "1,-1,2"}, dev) == ["1"]
    assert gpu.visible({}, tmp_path_factory.mktemp("empty")) == []


def test_a_sandbox_gets_its_own_gpus_nodes_and_the_control_nodes(dev):
    nodes = gpu.device_nodes(["1"], dev)
    assert nodes == [str(dev / "nvidiactl"), str(dev / "nvidia-uvm"), str(dev / "nvidia1")]
    assert gpu.device_nodes([], dev) == []
    # UUIDs name no node: every GPU node is bound and CUDA_VISIBLE_DEVICES picks
    assert str(dev / "nvidia2") in gpu.device_nodes(["GPU-1234"], dev)
    assert gpu.sandbox_env([]) == {"CUDA_VISIBLE_DEVICES": ""}
    assert gpu.sandbox_env(["1"])["CUDA_VISIBLE_DEVICES"] == "1"


def test_choose_takes_what_it_may_and_refuses_clearly(monkeypatch):
    monkeypatch.setattr(gpu, "visible", lambda env=None: ["0", "1"])
    assert gpu.choose(0, "x") == []
    assert gpu.choose(1, "x") == ["0"]
    assert gpu.choose(1, "x", wanted=["1"]) == ["1"]
    with pytest.raises(gpu.GpuUnavailable, match=r"variant 'full' of task 't' needs 3 GPU"):
        gpu.choose(3, "variant 'full' of task 't'")
    monkeypatch.setattr(gpu, "visible", lambda env=None: [])
    with pytest.raises(gpu.GpuUnavailable, match="none"):
        gpu.choose(1, "x")


def _gpu_task(tmp_path, stack: str = ""):
    (tmp_path / "task.yaml").write_text(
        "id: needs-gpu\nname: n\nfamily: vision\ndescription: d\nstarter: null\n"
        "variants:\n  default: {}\n  full: {requires: [gpu], resources: {gpus: 1}}\n"
        "artifact: {path: a.csv, kind: csv}\nmetric: {name: m, direction: max}\n" + stack
    )
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader/grade.py").write_text("")
    (tmp_path / "prepare.py").write_text(
        "def prepare(public, private, *, seed, variant, secret_seed):\n    pass\n"
    )
    return load_task(tmp_path)


def test_a_gpu_variant_on_a_machine_without_gpus_says_so_before_starting(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "visible", lambda env=None: [])
    env = rgym.make(_gpu_task(tmp_path), variant="full")
    try:
        with pytest.raises(gpu.GpuUnavailable, match="variant 'full' of task 'needs-gpu'"):
            env.reset()
        assert env.data is None  # refused before any data was made
    finally:
        env.close()


def test_a_missing_stack_names_the_extra_before_starting(tmp_path):
    from rgym.tasks.stack import StackMissing

    spec = _gpu_task(tmp_path, "stack: {modules: [numpy, no_such_module_xyz], extra: vision}\n")
    env = rgym.make(spec)
    try:
        with pytest.raises(StackMissing, match=r"no_such_module_xyz.*pip install 'rgym\[vision\]'"):
            env.reset()
    finally:
        env.close()


def test_the_batch_pool_hands_out_the_gpus_a_sandbox_may_choose(monkeypatch):
    from rgym.batch.local import available_gpus

    monkeypatch.setattr(gpu, "visible", lambda env=None: ["0", "3"])
    assert available_gpus(None) == [0, 3]
    assert available_gpus(1) == [0]
