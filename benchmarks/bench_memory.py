"""Peak memory of the CLI: RSS after imports, and peak RSS of ``hardymer train`` per method.

Each figure comes from a fresh child process (``os.wait4`` gives that child's own ``ru_maxrss``
and CPU seconds), with one torch thread:

* import floor: ``import hardymer.cli``; ``import torch``; torch + one ``torch.optim.AdamW``
  (its first ``add_param_group`` imports ``torch._dynamo``, and with it sympy); torch + one step
  of ``hardymer.optim.Adam`` (the trainers' optimizer: torch's arithmetic, no ``torch._dynamo``);
  + faiss;
* ``hardymer train --dataset DATASET --root ROOT --method M --set cache_dir=null`` for every
  ``--methods`` entry (default config, one condition), and again with each ``--variant`` (extra
  ``--set`` options, e.g. ``train.precision=bf16``; an entry ``env:NAME=VALUE`` sets an
  environment variable of that run instead, e.g. ``env:HARDYMER_MMAP_THRESHOLD=131072``).

    python benchmarks/bench_memory.py --root ../shared/data/mosi-poria
    python benchmarks/bench_memory.py --root ../shared/data/mosi-poria --methods hardymer \\
        --variant train.fast_dropout=true --variant train.precision=bf16,train.fast_dropout=true

Peak RSS is in MiB (``ru_maxrss`` / 1024). ``--quick`` trains 2 epochs on tiny synthetic data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

IMPORTS = {
    "import hardymer.cli": "import hardymer.cli",
    "import torch": "import torch",
    "torch + AdamW (imports torch._dynamo)": "import torch; torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())",
    "torch + AdamW + faiss": "import torch, faiss; torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())",
    "torch + hardymer.optim.Adam step": (
        "import torch; from hardymer.optim import Adam; m = torch.nn.Linear(2, 2); "
        "o = Adam(m.parameters()); m(torch.ones(1, 2)).sum().backward(); o.step()"
    ),
    "torch + hardymer.optim.Adam + faiss": (
        "import torch, faiss; from hardymer.optim import Adam; Adam(torch.nn.Linear(2, 2).parameters())"
    ),
}
#: libraries that ``import hardymer.cli`` must not pull in (imported lazily where needed)
HEAVY = ("torch", "sklearn", "scipy", "matplotlib", "faiss", "pandas", "ray", "optuna")


def measure(cmd: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Peak RSS (MiB), CPU seconds (user + system) and system seconds of one child running ``cmd``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(extra_env or {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return {
        "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
        "sys_s": round(ru.ru_stime, 1),
    }


def heavy_imports() -> list[str]:
    """The :data:`HEAVY` libraries present in ``sys.modules`` after ``import hardymer.cli``."""
    code = f"import sys, hardymer.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return [m for m in out.split(",") if m]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="mosi-poria")
    p.add_argument("--root", default="../shared/data/mosi-poria")
    p.add_argument("--methods", default="backbone,hardymer")
    p.add_argument("--variant", action="append", default=[], help="comma list of --set options, one run each")
    p.add_argument("--quick", action="store_true", help="tiny synthetic data, 2 epochs (smoke run)")
    p.add_argument("--out", default=None, help="JSON file")
    args = p.parse_args(argv)
    res: dict = {
        "imports": {k: measure([sys.executable, "-c", c]) for k, c in IMPORTS.items()},
        "heavy_after_import_cli": heavy_imports(),
        "train": [],
    }
    data = (
        ["--dataset", "synthetic", "--data-opt", "size=tiny", "--epochs", "2"]
        if args.quick
        else ["--dataset", args.dataset, "--root", args.root]
    )
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            for variant in ["", *args.variant]:
                parts = [v for v in variant.split(",") if v]
                env = dict(v[4:].split("=", 1) for v in parts if v.startswith("env:"))
                sets = [s for v in parts if not v.startswith("env:") for s in ("--set", v)]
                cmd = [
                    sys.executable,
                    "-m",
                    "hardymer",
                    "train",
                    *data,
                    "--method",
                    method,
                    "--set",
                    "cache_dir=null",
                    *sets,
                    "--out",
                    str(Path(tmp) / f"{method}-{len(res['train'])}"),
                ]
                res["train"].append({"method": method, "variant": variant or "default", **measure(cmd, env)})
    for k, v in res["imports"].items():
        print(f"{k:40s} {v['peak_rss_mib']:8.1f} MiB  {v['cpu_s']:6.1f} CPU s")
    print(f"heavy libraries after `import hardymer.cli`: {', '.join(res['heavy_after_import_cli']) or 'none'}")
    for r in res["train"]:
        print(
            f"train {r['method']:10s} {r['variant']:60s} {r['peak_rss_mib']:8.1f} MiB  {r['cpu_s']:6.1f} CPU s"
            f" (system {r['sys_s']:.1f})"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
