import platform

import faiss
import numpy as np
import sklearn
import torch

from hardymer._env import cpu_model, describe, environment


def test_environment_matches_the_libraries():
    env = environment()
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert env["faiss"] == faiss.__version__ and env["scikit-learn"] == sklearn.__version__
    assert env["python"] == platform.python_version() and env["machine"] == platform.machine()
    prev = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert environment()["torch_threads"] == 1
    finally:
        torch.set_num_threads(prev)
    line = describe({**env, "torch_threads": 3, "cpu": "Test CPU"})
    assert line == (
        f"torch {env['torch']}, numpy {env['numpy']}, faiss {env['faiss']}, 3 torch threads, "
        f"Test CPU ({env['machine']})"
    )
    assert "thread" not in describe(env, threads=False)


def test_cpu_model_from_cpuinfo(tmp_path):
    p = tmp_path / "cpuinfo"
    p.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Example CPU @ 2.0GHz\n\nprocessor\t: 1\n")
    assert cpu_model(p) == "Example CPU @ 2.0GHz"
    assert cpu_model(tmp_path / "absent") == (platform.processor() or None)
