"""A linear floor for a prepared IEMOCAP npz: class-balanced logistic regression, leave-one-session-out.

For every fold of the file (``scripts/prepare_iemocap.py`` writes ``session1``..``session5``) and every
feature set (audio, text, audio + text), the features are standardised with the mean and standard
deviation of the fold's training utterances that have the modality (unavailable rows become 0, the
training mean), a logistic regression with ``class_weight="balanced"`` (``C`` fixed, nothing is
selected, so no validation part is needed) is fitted on the training and validation parts, i.e. all
training sessions (``--fit-on train``: the training part only) and scored on the test session:
UA (unweighted average recall = balanced accuracy) and WA (accuracy), in %. Two more rows test the
audio + text model with one modality zeroed at test time (``at-a0``: audio missing, ``at-t0``: text
missing).

Usage::

    python scripts/iemocap_probe.py data/iemocap4.npz [--json runs/iemocap4-probe.json]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write_json
from hardymer.data import create_dataset
from hardymer.data.dataset import MultimodalDataset
from hardymer.errors import HardymerError

log = logging.getLogger("iemocap_probe")

FEATURE_SETS = {"a": ("a",), "t": ("t",), "at": ("a", "t")}
ZEROED = {"at-a0": "a", "at-t0": "t"}  # the audio + text model, one modality set to its training mean at test


def _standardise(ds: MultimodalDataset, m: str, fit_idx: np.ndarray) -> np.ndarray:
    """Modality ``m`` standardised with the statistics of the available rows of ``fit_idx``; unavailable -> 0."""
    j = "atv".index(m)
    x = np.asarray(ds.features[m], dtype=np.float64)
    avail = ds.available[:, j]
    rows = fit_idx[avail[fit_idx]]
    mu = x[rows].mean(axis=0)
    sd = x[rows].std(axis=0)
    z = (x - mu) / np.where(sd > 0, sd, 1.0)
    z[~avail] = 0.0
    return z


def probe(ds: MultimodalDataset, fit_on: str = "train", c: float = 1.0, max_iter: int = 2000) -> dict:
    """UA and WA (%) per fold and feature set, and their means over folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    if ds.task != "classification":
        raise HardymerError(f"{ds.name}: the probe needs a classification dataset, got {ds.task}")
    per_fold: dict[str, dict[str, dict[str, float]]] = {}
    for fold in ds.folds:
        fit_idx = np.asarray(fold.train, dtype=np.int64)
        if fit_on == "train+val":
            fit_idx = np.concatenate([fit_idx, np.asarray(fold.val, dtype=np.int64)])
        test_idx = np.asarray(fold.test, dtype=np.int64)
        z = {m: _standardise(ds, m, fit_idx) for m in ("a", "t")}
        y = ds.labels
        res: dict[str, dict[str, float]] = {}
        for name, mods in FEATURE_SETS.items():
            x = np.concatenate([z[m] for m in mods], axis=1)
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter)
            clf.fit(x[fit_idx], y[fit_idx])
            tests = {name: x[test_idx]}
            if name == "at":
                da = z["a"].shape[1]
                for zname, m in ZEROED.items():
                    xt = x[test_idx].copy()
                    if m == "a":
                        xt[:, :da] = 0.0
                    else:
                        xt[:, da:] = 0.0
                    tests[zname] = xt
            for tname, xt in tests.items():
                pred = clf.predict(xt)
                res[tname] = {
                    "UA": 100.0 * balanced_accuracy_score(y[test_idx], pred),
                    "WA": 100.0 * accuracy_score(y[test_idx], pred),
                }
        per_fold[fold.name] = res
        log.info(
            "%s: %s",
            fold.name,
            "  ".join(f"{k} UA {v['UA']:.1f} WA {v['WA']:.1f}" for k, v in res.items()),
        )
    sets = list(next(iter(per_fold.values())))
    mean = {s: {k: float(np.mean([per_fold[f][s][k] for f in per_fold])) for k in ("UA", "WA")} for s in sets}
    return {"dataset": ds.name, "fit_on": fit_on, "C": c, "folds": per_fold, "mean": mean}


def markdown(result: dict) -> str:
    """The probe's table: one row per feature set, UA / WA per fold and their mean."""
    folds = list(result["folds"])
    head = "| features | " + " | ".join(f"{f} UA / WA" for f in folds) + " | mean UA | mean WA |"
    lines = [head, "|---|" + "---:|" * (len(folds) + 2)]
    for s, m in result["mean"].items():
        cells = [f"{result['folds'][f][s]['UA']:.1f} / {result['folds'][f][s]['WA']:.1f}" for f in folds]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {m['UA']:.1f} | {m['WA']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints the table (markdown) to stdout, returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz", help="a prepared IEMOCAP .npz (scripts/prepare_iemocap.py)")
    ap.add_argument("--fit-on", choices=("train", "train+val"), default="train+val", help="parts fitted (%(default)s)")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength (%(default)s)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-fold log lines")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        ds = create_dataset("npz", root=args.npz)
        result = probe(ds, fit_on=args.fit_on, c=args.C)
    except HardymerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        atomic_write_json(Path(args.json), result)
    sys.stdout.write(f"{ds.name}: logistic regression floor (fit on {args.fit_on}), UA / WA %\n\n")
    sys.stdout.write(markdown(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
