"""One torch thread per test module (module scope, so that module-scoped fixtures that train get it too):
these models are tiny, and extra threads only contend on a shared CPU."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
