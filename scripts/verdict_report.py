"""docs/verdict.md from the runs of scripts/verdict.sh: each prediction, its paired difference with a
95 % interval (Student t over seeds), held / not held, and a conclusion written from those numbers.

Usage: python scripts/verdict_report.py --runs runs/verdict --out docs/verdict.md \
           [--mosi-results a/results.json,b/results.json] [--readme README.md]

Every number comes from the run folders (metrics.json, hardness_summary.json) or the named
results.json files; test metrics of runs selected on validation. Nothing here is tuned.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write, atomic_write_text
from hardymer.evaluation.metrics import metric_decimals
from hardymer.evaluation.stats import MIN_SEEDS, format_interval, no_interval_note, paired_differences

log = logging.getLogger("verdict")
MISSING6 = ("a", "t", "v", "at", "av", "tv")
#: decimals of the per-condition acc2 cells of the (wide) CMU-MOSI table
COMPACT_DECIMALS = 1


# ----------------------------------------------------------------------------- loading
def load_runs(root: Path) -> dict[tuple, dict]:
    """(part, cell, method, condition, seed) -> record, for every finished run under ``root``.

    Layout: ``root/p1/<cell>/<method>/<cond>/fold<f>/seed<s>/metrics.json`` and
    ``root/<part>/<method>/<cond>/fold<f>/seed<s>/metrics.json`` (part = long-stage2, release)."""
    out: dict[tuple, dict] = {}
    for p in sorted(root.glob("**/metrics.json")):
        rel = p.relative_to(root).parts
        if rel[0] in ("tuned",) or len(rel) < 5:
            continue
        if rel[0] == "p1":
            part, cell, method, cond, seed = "p1", rel[1], rel[2], rel[3], rel[5]
        else:
            part, cell, method, cond, seed = rel[0], "b1.5-r0.4-main", rel[1], rel[2], rel[4]
        m = json.loads(p.read_text())
        hs = p.parent / "hardness_summary.json"
        m["_hardness"] = json.loads(hs.read_text()) if hs.is_file() else None
        out[(part, cell, method, cond, int(seed.removeprefix("seed")))] = m
    return out


def load_results_json(paths: list[Path]) -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text())) for p in paths if p.is_file()]


# ----------------------------------------------------------------------------- comparisons
@dataclass
class Row:
    prediction: str
    comparison: str
    where: str
    n: int
    d_acc2: object  # PairedDifference | None
    d_mae: object
    held: bool | None
    rule: str


def _values(runs: dict, key: tuple, seeds: list[int], metric: str) -> list[float]:
    part, cell, method, cond = key
    return [float(runs[(part, cell, method, cond, s)]["test"][metric]) for s in seeds]


def _seeds(runs: dict, a: tuple, b: tuple) -> list[int]:
    sa = {k[4] for k in runs if k[:4] == a}
    sb = {k[4] for k in runs if k[:4] == b}
    return sorted(sa & sb)


def compare(runs: dict, a: tuple, b: tuple) -> tuple[int, object, object]:
    """Paired differences a - b of test acc2 and MAE over the seeds both have."""
    seeds = _seeds(runs, a, b)
    if not seeds:
        return 0, None, None
    da = paired_differences(_values(runs, a, seeds, "acc2"), _values(runs, b, seeds, "acc2"))
    dm = paired_differences(_values(runs, a, seeds, "mae"), _values(runs, b, seeds, "mae"))
    return len(seeds), da, dm


def gain(d) -> bool:
    """acc2 gain whose interval excludes 0."""
    return d is not None and d.ci_low is not None and d.ci_low > 0


def loss(d) -> bool:
    return d is not None and d.ci_high is not None and d.ci_high < 0


def no_gain(d) -> bool | None:
    return None if d is None or d.ci_low is None else not gain(d)


def fmt(d, digits: int = metric_decimals("acc2")) -> str:
    """A paired difference as a cell (:func:`hardymer.evaluation.stats.format_interval`); ``not run`` for None."""
    return "not run" if d is None else format_interval(d, digits)


def held_txt(h: bool | None) -> str:
    return "not run" if h is None else ("**held**" if h else "not held")


def cells(runs: dict) -> list[str]:
    return sorted({k[1] for k in runs if k[0] == "p1"})


def parse_cell(cell: str) -> tuple[str, str, str]:
    b, r, size = cell.split("-", 2)
    return b[1:], r[1:], size


def testbed_rows(runs: dict) -> list[Row]:
    rows: list[Row] = []
    main = next(
        (c for c in cells(runs) if c.startswith("b1.5-r0.4-") and (c.endswith("small") or c.endswith("tiny"))), None
    )
    # P1: gain where hardness matters (beta > 0, condition a)
    for c in cells(runs):
        beta, rho, size = parse_cell(c)
        for cond in ("a", "at"):
            n, da, dm = compare(runs, ("p1", c, "hardymer", cond), ("p1", c, "backbone", cond))
            if n == 0:
                continue
            where = f"β={beta}, ρ={rho}, {size}, `{cond}`"
            if float(beta) > 0 and cond == "a":
                rows.append(
                    Row(
                        "P1",
                        "hardymer − backbone",
                        where,
                        n,
                        da,
                        dm,
                        gain(da) if da is not None and da.ci_low is not None else None,
                        "held if the acc2 interval is above 0",
                    )
                )
            else:
                why = "β = 0" if float(beta) == 0 else "text present"
                rows.append(
                    Row(
                        "P4",
                        f"hardymer − backbone (null: {why})",
                        where,
                        n,
                        da,
                        dm,
                        no_gain(da),
                        "held if the acc2 interval is not above 0",
                    )
                )
    if main is None:
        return rows
    beta, rho, size = parse_cell(main)
    where = f"β={beta}, ρ={rho}, {size}, `a`"
    for other, label in (
        ("hardymer-random-h", "by h − random h (share 0.5)"),
        ("hardymer-fixed-k", "by h − fixed k (share 0.5)"),
    ):
        n, da, dm = compare(runs, ("p1", main, "hardymer", "a"), ("p1", main, other, "a"))
        if n:
            rows.append(Row("P2", label, where, n, da, dm, gain(da), "held if the acc2 interval is above 0"))
    n, da, dm = compare(runs, ("p1", main, "hardymer-no-retrieval", "a"), ("p1", main, "backbone", "a"))
    if n:
        rows.append(
            Row(
                "P3",
                "no-retrieval − backbone (≈ 0 expected)",
                where,
                n,
                da,
                dm,
                None if da.ci_low is None else not da.excludes_zero,
                "held if the acc2 interval contains 0",
            )
        )
    n, da, dm = compare(runs, ("p1", main, "hardymer-random-nb", "a"), ("p1", main, "backbone", "a"))
    if n:
        rows.append(
            Row(
                "P3",
                "random neighbours − backbone (≤ 0 expected)",
                where,
                n,
                da,
                dm,
                no_gain(da),
                "held if the acc2 interval is not above 0",
            )
        )
    # variants (repairs and controls): each against the backbone of the same part
    for method, label in (
        ("hardymer-all-k", "k = K for all − backbone"),
        ("hardymer-seq", "sequential view steps − backbone"),
    ):
        n, da, dm = compare(runs, ("p1", main, method, "a"), ("p1", main, "backbone", "a"))
        if n:
            rows.append(Row("variant", label, where, n, da, dm, None, "a variant, not the method"))
    for part, label in (
        ("long-stage2", "longer stage 2: hardymer − backbone (both long)"),
        ("release", "release recipe: hardymer − backbone (both release)"),
    ):
        n, da, dm = compare(runs, (part, "b1.5-r0.4-main", "hardymer", "a"), (part, "b1.5-r0.4-main", "backbone", "a"))
        if n:
            rows.append(Row("variant", label, where, n, da, dm, None, "a variant, not the method"))
    return rows


def estimator_rows(runs: dict) -> tuple[list[str], bool | None]:
    """P5: AUC of h, DH and IH against the true hard flag (hardymer, condition a, every cell with beta > 0)."""
    lines = [
        "| cell | seeds | AUC h | AUC DH | AUC IH | Spearman(DH, ‖x_missing‖²) | mean k hard / easy | label agreement hard / easy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    held: bool | None = None
    for c in cells(runs):
        beta, rho, size = parse_cell(c)
        recs = [
            v
            for k, v in runs.items()
            if k[0] == "p1" and k[1] == c and k[2] == "hardymer" and k[3] == "a" and v["_hardness"] is not None
        ]
        if not recs:
            continue
        d = [r["_hardness"]["conditions"]["a"] for r in recs]

        def mean(key: str) -> float:
            vals = [x[key] for x in d if x.get(key) is not None]
            return float(np.mean(vals)) if vals else float("nan")

        auc_h = mean("auc_h_vs_hard")
        lines.append(
            f"| β={beta}, ρ={rho}, {size} | {len(recs)} | {auc_h:.3f} | {mean('auc_dh_vs_hard'):.3f} | "
            f"{mean('auc_ih_vs_hard'):.3f} | {mean('spearman_dh_missing_sq_norm'):.2f} | "
            f"{mean('k_mean_hard'):.2f} / {mean('k_mean_easy'):.2f} | "
            f"{mean('label_agreement_used_hard'):.3f} / {mean('label_agreement_used_easy'):.3f} |"
        )
        if float(beta) > 0 and np.isfinite(auc_h):
            held = (held is not False) and auc_h >= 0.7
    return lines, held


# ----------------------------------------------------------------------------- MOSI
def mosi_section(results: list[tuple[Path, dict]]) -> tuple[list[str], dict]:
    """hardymer (and presets) − backbone per condition from each results.json (paired by seed)."""
    lines: list[str] = []
    facts: dict = {}
    for path, data in results:
        runs = data["runs"]
        methods = [m for m in data["methods"] if m.startswith("hardymer")]
        if "backbone" not in data["methods"] or not methods:
            continue
        by = {}
        for r in runs:
            by[(r["bench_method"], r["condition"], int(r["seed"]))] = r["test"]
        conds = [c for c in (*MISSING6, "atv") if any(k[1] == c for k in by)]
        seeds = sorted({k[2] for k in by})
        lines += [
            "",
            f"**{data.get('title') or path.parent.name}** — `{path}`; test, selected on "
            f"{data.get('select_on', 'val')}, seeds {', '.join(map(str, seeds))}"
            + (f" (fewer than {MIN_SEEDS} seeds)" if len(seeds) < MIN_SEEDS else ""),
            "",
            "| acc2 difference vs backbone | " + " | ".join(conds) + " | mean6 |",
            "|---|" + "---|" * (len(conds) + 1),
        ]
        for m in methods:
            cells_txt = []
            for c in conds:
                s = [x for x in seeds if (m, c, x) in by and ("backbone", c, x) in by]
                d = (
                    paired_differences([by[(m, c, x)]["acc2"] for x in s], [by[("backbone", c, x)]["acc2"] for x in s])
                    if s
                    else None
                )
                cells_txt.append(fmt(d, COMPACT_DECIMALS))
            s6 = [x for x in seeds if all((m, c, x) in by and ("backbone", c, x) in by for c in MISSING6)]
            d6 = None
            if s6:
                a = [np.mean([by[(m, c, x)]["acc2"] for c in MISSING6]) for x in s6]
                b = [np.mean([by[("backbone", c, x)]["acc2"] for c in MISSING6]) for x in s6]
                d6 = paired_differences(a, b)
            facts[(str(path), m)] = d6
            lines.append(f"| {m} | " + " | ".join(cells_txt) + f" | {fmt(d6)} |")
    return lines, facts


# ----------------------------------------------------------------------------- plot
def plot(rows: list[Row], out_png: Path) -> Path | None:
    rows = [r for r in rows if r.d_acc2 is not None and r.d_acc2.ci_low is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    means = [r.d_acc2.mean for r in rows]
    lo = [r.d_acc2.mean - r.d_acc2.ci_low for r in rows]
    hi = [r.d_acc2.ci_high - r.d_acc2.mean for r in rows]
    ax.errorbar(means, y, xerr=[lo, hi], fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [f"{r.prediction}: {r.comparison} | {r.where}".replace("`", "") for r in rows], fontsize=7)
    ax.set_xlabel("paired acc2 difference, test (95 % interval over seeds)")
    fig.tight_layout()
    try:
        return atomic_write(out_png, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- text
def conclusion(rows: list[Row], p5: bool | None, mosi: dict) -> list[str]:
    p1 = [r for r in rows if r.prediction == "P1" and r.held is not None]
    p1_gain = [r for r in p1 if r.held]
    p1_loss = [r for r in p1 if loss(r.d_acc2)]
    p4_fail = [r for r in rows if r.prediction == "P4" and r.held is False]
    p2 = [r for r in rows if r.prediction == "P2"]
    variants_gain = [r for r in rows if r.prediction == "variant" and gain(r.d_acc2)]
    s = []
    if not p1:
        return ["The testbed grid has not been run yet."]
    if p1_gain:
        best = max(p1_gain, key=lambda r: r.d_acc2.mean)
        s.append(
            f"On the testbed, where the label of a hard sample depends on a signal only the missing text "
            f"holds, HARDY-MER's curriculum beats the equally tuned backbone in {len(p1_gain)} of {len(p1)} "
            f"testbed settings (largest: {best.d_acc2.mean:+.2f} acc2 at {best.where})."
        )
    else:
        s.append(
            f"On the testbed, where the label of a hard sample depends on a signal only the missing text "
            f"holds, HARDY-MER's curriculum does not beat the equally tuned backbone in any of the {len(p1)} testbed settings tried"
            + (f" and is significantly worse in {len(p1_loss)}" if p1_loss else "")
            + "."
        )
    if p5:
        s.append(
            "Its hardness estimate does find the hard samples (they score clearly harder than the others, almost "
            "entirely through the direct reconstruction term), so the failure is not in finding hard samples but in what the views do with them."
            if not p1_gain
            else "Its hardness estimate finds the hard samples (they score clearly harder than the others)."
        )
    elif p5 is False:
        s.append("Its hardness estimate does not separate the hard samples from the others well.")
    alloc = [r for r in p2 if r.held]
    if p2:
        s.append(
            "Allocating neighbours by hardness "
            + ("beats" if len(alloc) == len(p2) else "does not beat" if not alloc else "beats only one of")
            + " random allocation and a fixed k at the same share of neighbour views."
        )
    if p4_fail:
        s.append(
            f"{len(p4_fail)} control setting(s) without hard samples show a gain as well, so whatever helps there is not the hardness mechanism."
        )
    if variants_gain:
        s.append(
            "Variants with a gain over the backbone: "
            + "; ".join(f"{r.comparison} ({r.d_acc2.mean:+.2f})" for r in variants_gain)
            + " — reported as variants, not as the method."
        )
    mosi_txt = [f"{fmt(d)} ({Path(p).parent.name})" for (p, m), d in mosi.items() if m == "hardymer" and d is not None]
    if mosi_txt:
        s.append(
            "On CMU-MOSI the six-condition mean acc2 difference hardymer − backbone is " + "; ".join(mosi_txt) + " ."
        )
    return s


def build(runs_dir: Path, out: Path, mosi_paths: list[Path]) -> tuple[str, list[str]]:
    runs = load_runs(runs_dir)
    rows = testbed_rows(runs)
    est_lines, p5 = estimator_rows(runs)
    mosi_lines, mosi_facts = mosi_section(load_results_json(mosi_paths))
    png = plot(rows, out.parent / "verdict" / "paired_acc2.png")
    seeds = sorted({k[4] for k in runs})
    concl = conclusion(rows, p5, mosi_facts)
    steps = [
        v.get("curriculum_steps") for k, v in runs.items() if k[2].startswith("hardymer") and v.get("curriculum_steps")
    ]
    tuned = []
    for m in ("backbone", "hardymer"):
        p = runs_dir / "tuned" / m / "tune.json"
        if p.is_file():
            t = json.loads(p.read_text())
            tuned.append(
                f"{m}: {t.get('trials_requested')} trials, seeds {t.get('seeds')}, best validation "
                f"{t.get('metric')} {t.get('best_value', float('nan')):.4f}"
            )
    md = [
        "# Does HARDY-MER's curriculum help, and when?",
        "",
        "Generated by `bash scripts/verdict.sh` (then `python scripts/verdict_report.py --runs "
        f"{runs_dir} --out {out}`); do not edit by hand.",
        "",
        "## Verdict",
        "",
        *[f"{x}" for x in concl],
        "",
        "## Set-up",
        "",
        "- Testbed: `--dataset synthetic --data-opt scenario=private` (docs/data-formats.md): i.i.d. utterances; "
        "for a hard sample (probability ρ) the label carries β·(v·u), where u lives only in the text. Under "
        "condition `a` the text is missing, so a hard sample's label depends on information the model cannot see; "
        "under `at` nothing that matters is missing; β = 0 makes `hard` irrelevant. Regression; acc2 = sign "
        "agreement on non-zero labels.",
        f"- Seeds {', '.join(map(str, seeds)) or '—'} (paired: same data, same seed), test metrics of the epoch "
        "selected on validation MAE; differences are `a − b` per seed, mean and 95 % Student-t interval; `*` = "
        "interval excludes 0. " + no_interval_note("`*`") + " MAE differences: negative is better.",
        "- Configs: `backbone` and `hardymer` tuned with the same budget ("
        + ("; ".join(tuned) or "not run")
        + ") on the testbed's validation split (β = 1.5, ρ = 0.4, small, conditions a + at); every preset runs "
        "with hardymer's tuned config plus the preset's options (configs/methods.yaml).",
        f"- Curriculum steps before the selected epoch (hardymer runs): median {int(np.median(steps)) if steps else 0}, "
        f"range {min(steps) if steps else 0}–{max(steps) if steps else 0}.",
        "",
        "## Predictions",
        "",
        "| | comparison | cell | n | Δ acc2 [95 % CI] | Δ MAE [95 % CI] | held? | rule |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d_mae = fmt(r.d_mae, metric_decimals("mae"))
        md.append(
            f"| {r.prediction} | {r.comparison} | {r.where} | {r.n} | {fmt(r.d_acc2)} | {d_mae} | "
            f"{held_txt(r.held) if r.prediction != 'variant' else '—'} | {r.rule} |"
        )
    md += [
        "",
        "P5 — does the hardness estimate find the hard samples? (hardymer, condition `a`; held if AUC of h ≥ 0.7 "
        f"in every cell with β > 0): {held_txt(p5)}",
        "",
        *est_lines,
        "",
    ]
    if png is not None:
        md += [f"![paired acc2 differences]({png.relative_to(out.parent).as_posix()})", ""]
    md += [
        "## CMU-MOSI",
        "",
        "The same comparisons on real data (Poria features, fixed protocol, all seven "
        "conditions), read from the results files named; `mean6` = the mean over the six missing conditions.",
        *mosi_lines,
        "",
    ]
    return "\n".join(md), concl


def update_readme(readme: Path, concl: list[str], verdict_path: str) -> None:
    begin, end = "<!-- verdict:begin -->", "<!-- verdict:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        log.warning("%s has no %s/%s markers; not updated", readme, begin, end)
        return
    body = " ".join(concl[:3]) + f" Details, every cell with its interval: [{verdict_path}]({verdict_path})."
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(readme, f"{head}{begin}\n{body}\n{end}{tail}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--mosi-results", default="")
    ap.add_argument("--readme", type=Path, default=None)
    args = ap.parse_args()
    md, concl = build(args.runs, args.out, [Path(p) for p in args.mosi_results.split(",") if p])
    atomic_write_text(args.out, md)
    if args.readme is not None:
        update_readme(args.readme, concl, args.out.as_posix())
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
