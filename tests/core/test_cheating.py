"""Tricks that must not earn points: lying comparisons, lying tensors, forged output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURE_COURSE
from worker.pipeline import Pipeline

COPY = "    return torch.tensor(arr)\n"


@pytest.mark.parametrize("patch", [
    "torch.equal = lambda *a, **k: True",
    "torch.allclose = lambda *a, **k: True",
    "np.allclose = lambda *a, **k: True",
    "np.shares_memory = lambda *a, **k: True",
    "np.may_share_memory = lambda *a, **k: True",
    "torch.Tensor.data_ptr = lambda self: 0",
    "torch.Tensor.untyped_storage = lambda self: None",
    "torch.Tensor.detach = lambda self: torch.zeros(())",
    "torch.Tensor.numpy = lambda self, **k: np.zeros(())",
    "torch.Tensor.shape = property(lambda self: ())",
])
def test_monkeypatching_comparisons_earns_nothing(tiny_pipeline: Pipeline, patch: str) -> None:
    source = f"import numpy as np\nimport torch\n{patch}\n\ndef share_from_numpy(arr):\n{COPY}"
    verdict = tiny_pipeline.grade("tiny-share", source)
    assert verdict.status == "failed"
    shares = [c for c in verdict.checks if c.name == "shares_memory"]
    assert shares and not any(c.passed for c in shares)


def test_tensor_subclass_with_lying_eq_earns_nothing(tiny_pipeline: Pipeline) -> None:
    source = (
        "import torch\n\nclass Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __torch_function__(self, *a, **k):\n        return True\n\n"
        "def share_from_numpy(arr):\n    return torch.zeros(1).as_subclass(Liar)\n"
    )
    verdict = tiny_pipeline.grade("tiny-share", source)
    assert verdict.status == "failed"
    values = [c for c in verdict.checks if c.name == "values"]
    assert not any(c.passed for c in values)


def test_printed_fake_result_is_only_output() -> None:
    fake = json.dumps({"exercise": "tiny-share", "status": "passed", "score": 10,
                       "max_score": 10, "checks": []})
    source = f"import torch\nprint({fake!r})\n\ndef share_from_numpy(arr):\n" \
             f"    print({fake!r})\n{COPY}"
    out = subprocess.run(
        [sys.executable, "-m", "worker.cli", "--exercises", str(FIXTURE_COURSE), "check",
         "tiny-share", "-", "--json"],
        input=source.encode(), capture_output=True, check=False,
    )
    assert out.returncode == 1
    lines = out.stdout.decode().strip().splitlines()
    assert len(lines) == 1, "stdout must be one JSON object, the grader's"
    verdict = json.loads(lines[0])
    assert verdict["status"] == "failed" and verdict["score"] < 10
    assert fake in verdict["stdout"]
