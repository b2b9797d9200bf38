"""scripts/verdict_report.py on fabricated run folders: the intervals are scipy's, the rules hold."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("verdict_report", ROOT / "scripts" / "verdict_report.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _run(
    root: Path, cell: str, method: str, cond: str, seed: int, acc2: float, mae: float, auc: float | None = None
) -> None:
    d = root / "p1" / cell / method / cond / "fold0" / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"test": {"acc2": acc2, "mae": mae}, "curriculum_steps": 12}))
    if auc is not None:
        (d / "hardness_summary.json").write_text(
            json.dumps(
                {
                    "conditions": {
                        cond: {
                            "auc_h_vs_hard": auc,
                            "auc_dh_vs_hard": auc,
                            "auc_ih_vs_hard": 0.5,
                            "spearman_dh_missing_sq_norm": 0.8,
                            "k_mean_hard": 2.5,
                            "k_mean_easy": 1.5,
                            "label_agreement_used_hard": 0.5,
                            "label_agreement_used_easy": 0.6,
                        }
                    }
                }
            )
        )


def test_report_intervals_match_scipy_and_rules(tmp_path):
    vr = _module()
    rng = np.random.default_rng(0)
    base = 60 + rng.normal(size=5)
    gain = base + 2.0 + 0.1 * rng.normal(size=5)  # a clear gain
    for s in range(5):
        for cond in ("a", "at"):
            _run(tmp_path, "b1.5-r0.4-small", "backbone", cond, s, base[s], 1.0)
            _run(
                tmp_path,
                "b1.5-r0.4-small",
                "hardymer",
                cond,
                s,
                gain[s] if cond == "a" else base[s] + (0.1, -0.1, 0.05, -0.05, 0.0)[s],
                0.9,
                auc=0.8 if cond == "a" else None,
            )
    md, concl = vr.build(tmp_path, tmp_path / "verdict.md", [])
    runs = vr.load_runs(tmp_path)
    n, da, _ = vr.compare(runs, ("p1", "b1.5-r0.4-small", "hardymer", "a"), ("p1", "b1.5-r0.4-small", "backbone", "a"))
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(gain - base), scale=stats.sem(gain - base))
    assert n == 5 and da.ci_low == pytest.approx(lo) and da.ci_high == pytest.approx(hi)
    rows = vr.testbed_rows(runs)
    p1 = [r for r in rows if r.prediction == "P1"]
    p4 = [r for r in rows if r.prediction == "P4"]
    assert len(p1) == 1 and p1[0].held is True
    assert len(p4) == 1 and p4[0].held is True  # the null (text present) shows no gain
    _, p5 = vr.estimator_rows(runs)
    assert p5 is True
    assert "beats the equally tuned backbone in 1 of 1" in concl[0]
    assert "| P1 | hardymer − backbone |" in md


def test_readme_block_is_replaced(tmp_path):
    vr = _module()
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- verdict:begin -->\nold\n<!-- verdict:end -->\nrest\n")
    vr.update_readme(readme, ["One.", "Two.", "Three.", "Four."], "docs/verdict.md")
    text = readme.read_text()
    assert "One. Two. Three." in text and "Four." not in text and "old" not in text and text.endswith("rest\n")


@pytest.mark.slow
def test_verdict_quick_end_to_end(tmp_path):
    env = {"RUNS": str(tmp_path), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "verdict.sh"), "--quick"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    md = (tmp_path / "verdict-quick" / "verdict.md").read_text()
    assert "| P1 |" in md and "| P2 |" in md and "| P3 |" in md
