import csv
import json

import numpy as np
import pytest

from hardymer.conditions import CONDITIONS, MISSING_CONDITIONS
from hardymer.evaluation.metrics import regression_metrics
from hardymer.reporting.plots import plot_condition_bars, plot_hardness, plot_label_agreement, write_plots
from hardymer.reporting.reference import CONSTANT_KEY, constant_predictor_metrics
from hardymer.reporting.results import summarise, write_results
from hardymer.reporting.tables import add_condition_means, aggregate, markdown_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(method, cond, seed, test, protocol="fixed", select_on="val", bench_method=None, fold="default"):
    r = {
        "method": method,
        "dataset": "synthetic",
        "condition": cond,
        "seed": seed,
        "fold": fold,
        "protocol": protocol,
        "select_on": select_on,
        "select_metric": "wa" if "wa" in str(test) else "mae",
        "optimistic": select_on == "test",
        "best_epoch": 1,
        "val": test,
        "test": test,
        "train_seconds": 0.1,
    }
    if bench_method is not None:
        r["bench_method"] = bench_method
    return r


def _cls(wa, ua=None):
    return {"wa": float(wa), "ua": float(ua if ua is not None else wa - 5), "wf1": float(wa - 1)}


def _reg(acc2, mae):
    return {
        "acc2": float(acc2),
        "f1": float(acc2),
        "acc2_has0": float(acc2),
        "f1_has0": float(acc2),
        "acc7": 20.0,
        "mae": float(mae),
        "corr": 0.5,
    }


def _fixed_grid(method, base, seeds=(0, 1), bench_method=None, **kw):
    """Fixed-protocol runs for all seven conditions: wa = base + 10*j + seed for condition j."""
    return [
        _run(method, c, s, _cls(base + 10 * j + s), bench_method=bench_method, **kw)
        for j, c in enumerate(CONDITIONS)
        for s in seeds
    ]


def _is_png(path):
    data = path.read_bytes()
    return len(data) > len(PNG_MAGIC) and data[:8] == PNG_MAGIC


# ---------------------------------------------------------------------------------- tables
def test_aggregate_mean_sample_std_and_count():
    runs = [_run("zf", "a", 0, _cls(50)), _run("zf", "a", 1, _cls(60)), _run("zf", "t", 0, _cls(70))]
    agg = aggregate(runs)
    mu, sd, n = agg[("zf", "a")]["wa"]
    assert (mu, n) == (55.0, 2)
    assert sd == pytest.approx(np.std([50, 60], ddof=1))
    assert agg[("zf", "t")]["wa"] == (70.0, 0.0, 1)  # one run: std 0


def test_mean6_is_per_seed_mean_over_missing_conditions():
    runs = _fixed_grid("zf", 10)
    agg = add_condition_means(aggregate(runs), runs)
    per_seed = [np.mean([10 + 10 * j + s for j in range(6)]) for s in (0, 1)]  # atv (j=6) excluded
    mu, sd, n = agg[("zf", "mean6")]["wa"]
    assert mu == pytest.approx(np.mean(per_seed)) and sd == pytest.approx(np.std(per_seed, ddof=1)) and n == 2
    # a seed missing one of the six conditions contributes no mean6
    partial = [r for r in runs if not (r["seed"] == 1 and r["condition"] == "v")]
    agg = add_condition_means(aggregate(partial), partial)
    assert agg[("zf", "mean6")]["wa"][2] == 1


def test_unified_runs_give_per_condition_columns():
    test = {c: _cls(40 + j) for j, c in enumerate(CONDITIONS)}
    test["mean"] = _cls(43)
    test["mean6"] = _cls(42.5)
    runs = [_run("zero-fill", "all", s, test, protocol="unified") for s in (0, 1)]
    agg = summarise(runs)
    for j, c in enumerate(CONDITIONS):
        assert agg[("zero-fill", c)]["wa"] == (40.0 + j, 0.0, 2)
    assert agg[("zero-fill", "mean6")]["wa"][0] == pytest.approx(np.mean([40 + j for j in range(6)]))


def test_summarise_keys_rows_by_bench_method():
    runs = [_run("hardymer", "a", 0, _cls(50), bench_method="hardymer-no-dh"), _run("hardymer", "a", 0, _cls(60))]
    agg = summarise(runs)
    assert agg[("hardymer-no-dh", "a")]["wa"][0] == 50.0 and agg[("hardymer", "a")]["wa"][0] == 60.0


def test_markdown_bolds_best_per_column_respecting_direction():
    agg = {
        ("m1", "a"): {"wa": (60.0, 1.0, 2), "mae": (0.9, 0.1, 2)},
        ("m2", "a"): {"wa": (50.0, 1.0, 2), "mae": (0.7, 0.1, 2)},
        ("m1", "t"): {"wa": (40.0, 0.0, 2)},
    }
    wa = markdown_table(agg, "wa", ["m1", "m2"], ["a", "t"])
    lines = wa.strip().splitlines()
    assert lines[0] == "| method | a | t |"
    assert "**60.00 ± 1.00**" in lines[2] and "**" not in lines[3].split("|")[2]
    assert "–" in lines[3]  # m2 has no t column
    mae = markdown_table(agg, "mae", ["m1", "m2"], ["a"], lower_is_better=True, digits=3)
    assert "**0.700 ± 0.100**" in mae and "**0.900" not in mae
    # a single method is never bold
    assert "**" not in markdown_table(agg, "wa", ["m1"], ["a"])


# ---------------------------------------------------------------------------------- results
def test_write_results_md_csv_json(tmp_path):
    runs = _fixed_grid("zero-fill", 10) + _fixed_grid("backbone", 20)
    md_path = write_results(
        runs, tmp_path, "synthetic", ["zero-fill", "backbone"], title="Tiny grid", command="hardymer bench --x"
    )
    md = md_path.read_text()
    assert md_path == tmp_path / "results.md"
    assert md.startswith("# Tiny grid")
    assert "dataset: `synthetic`" in md and "fold(s): default" in md
    assert "protocol: `fixed`" in md
    assert "validation (honest)" in md and "metric `wa`" in md and "optimistic" not in md.lower()
    assert "seeds: 0, 1" in md
    assert "hardymer bench --x" in md
    for metric in ("wa", "ua", "wf1"):
        assert f"## {metric} (test)" in md
    assert "| method | a | t | v | at | av | tv | atv | mean6 |" in md
    # backbone is 10 points better everywhere: bold in its row only
    bb = next(line for line in md.splitlines() if line.startswith("| backbone"))
    zf = next(line for line in md.splitlines() if line.startswith("| zero-fill"))
    assert bb.count("**") == 2 * 8 and "**" not in zf

    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert set(rows[0]) == {"method", "condition", "metric", "mean", "std", "n"}
    row = next(r for r in rows if (r["method"], r["condition"], r["metric"]) == ("backbone", "a", "wa"))
    assert float(row["mean"]) == pytest.approx(20.5) and row["n"] == "2"
    assert any(r["condition"] == "mean6" for r in rows)

    js = json.loads((tmp_path / "results.json").read_text())
    assert js["dataset"] == "synthetic" and js["protocol"] == "fixed" and js["select_on"] == "val"
    assert js["optimistic"] is False and js["seeds"] == [0, 1] and js["methods"] == ["zero-fill", "backbone"]
    assert len(js["runs"]) == len(runs)
    s = next(x for x in js["summary"] if (x["method"], x["condition"]) == ("zero-fill", "mean6"))
    assert s["wa"]["n"] == 2


def test_write_results_stamps_select_on_test_optimistic(tmp_path):
    runs = [_run("zero-fill", "a", s, _cls(50 + s), select_on="test") for s in (0, 1, 2)]
    md = write_results(runs, tmp_path, "synthetic", ["zero-fill"]).read_text()
    assert "TEST — optimistic" in md and "honest" not in md
    assert "seeds: 0, 1, 2" in md
    assert json.loads((tmp_path / "results.json").read_text())["optimistic"] is True


def test_write_results_regression_lower_is_better(tmp_path):
    runs = [_run("m1", c, s, _reg(70, 0.8 + 0.01 * s)) for c in ("a", "atv") for s in (0, 1)]
    runs += [_run("m2", c, s, _reg(60, 0.6)) for c in ("a", "atv") for s in (0, 1)]
    md = write_results(runs, tmp_path, "mosi", ["m1", "m2"]).read_text()
    assert "## mae (test) — lower is better" in md
    mae_section = md.split("## mae (test)")[1].split("##")[0]
    m1 = next(line for line in mae_section.splitlines() if line.startswith("| m1"))
    m2 = next(line for line in mae_section.splitlines() if line.startswith("| m2"))
    assert "**0.600" in m2 and "**" not in m1
    acc_section = md.split("## acc2 (test)")[1].split("##")[0]
    assert "**70.00" in acc_section
    assert "mean6" not in acc_section.splitlines()[1]  # no complete set of missing conditions


# ---------------------------------------------------------------------------------- plots
def _write_hardness(run_dir, conds=("a", "at"), n=12, seed=0, task="classification"):
    """A hardymer run folder: hardness.json rows with s = 0.6·minmax(dh) + 0.4·minmax(ih), h = rank of s."""
    rng = np.random.default_rng(seed)
    rows, summary = [], {"K": 3, "mapping": "rank", "mi_estimator": "critic", "conditions": {}}
    for c in conds:
        if c == "atv":  # nothing missing: DH = IH = s = 0, every h the same
            dh = ih = s = np.zeros(n)
            h = np.full(n, 0.5)
        else:
            dh, ih = rng.random(n) + 1.0, -rng.random(n) - 2.0
            s = 0.6 * (dh - dh.min()) / np.ptp(dh) + 0.4 * (ih - ih.min()) / np.ptp(ih)
            h = np.argsort(np.argsort(s)) / (n - 1)
        for i in range(n):
            rows.append(
                {
                    "utt_id": f"u{i}",
                    "condition": c,
                    "dh": float(dh[i]),
                    "ih": float(ih[i]),
                    "s": float(s[i]),
                    "h": float(h[i]),
                    "k": int(3 * h[i]) + 1,
                    "neighbours": [f"u{(i + j) % n}" for j in (1, 2, 3)],
                }
            )
        summary["conditions"][c] = {"hardness_mean": 0.5, "label_agreement_at_k": {"1": 0.6, "2": 0.55, "3": 0.5}}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "hardness.json").write_text(json.dumps(rows))
    (run_dir / "hardness_summary.json").write_text(json.dumps(summary))
    test = _cls(50) if task == "classification" else _reg(60, 0.9)
    (run_dir / "metrics.json").write_text(json.dumps(_run("hardymer", conds[0], seed, test)))
    return run_dir


def _figure_of(monkeypatch):
    """Capture the matplotlib figures the plot functions save (their objects, not pixels)."""
    import hardymer.reporting.plots as plots

    saved = []
    real = plots._save

    def spy(fig, path, tight=True):
        saved.append(fig)
        return real(fig, path, tight)

    monkeypatch.setattr(plots, "_save", spy)
    return saved


def _legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def _outside_axes(ax):
    """The legend lies right of the axes (it covers no bar)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    return ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_write_plots_classification(tmp_path):
    runs = _fixed_grid("zero-fill", 10) + _fixed_grid("hardymer", 20, bench_method="hardymer-no-dh")
    run_dirs = [_write_hardness(tmp_path / "runs" / f"r{s}", seed=s) for s in (0, 1)]
    run_dirs.append(tmp_path / "runs" / "zf")  # a run without hardness files is ignored
    out = tmp_path / "plots"
    paths = write_plots(runs, out, ["zero-fill", "hardymer-no-dh"], run_dirs)
    assert sorted(p.name for p in paths) == ["bars_ua.png", "bars_wa.png", "hardness.png", "label_agreement.png"]
    for p in paths:
        assert p.parent == out and _is_png(p)
    assert sorted(f.name for f in out.iterdir()) == sorted(p.name for p in paths)  # no temp files left


def test_write_plots_regression_without_hardymer_runs(tmp_path):
    runs = [_run("zero-fill", c, s, _reg(60 + s, 0.9)) for c in CONDITIONS for s in (0, 1)]
    paths = write_plots(runs, tmp_path, ["zero-fill"], [tmp_path / "nothing"])
    assert sorted(p.name for p in paths) == ["bars_acc2.png", "bars_mae.png"]
    assert all(_is_png(p) for p in paths)


def test_plot_condition_bars_unified_and_errors(tmp_path):
    test = {c: _cls(40 + j) for j, c in enumerate(CONDITIONS)}
    test.update(mean=_cls(43), mean6=_cls(42))
    runs = [_run("zero-fill", "all", s, test, protocol="unified") for s in (0, 1)]
    p = plot_condition_bars(runs, ["zero-fill", "not-run"], "wa", tmp_path / "sub" / "bars.png")
    assert _is_png(p)
    with pytest.raises(ValueError, match="mae"):
        plot_condition_bars(runs, ["zero-fill"], "mae", tmp_path / "x.png")


def test_bars_legend_has_every_method_and_the_constant_line(tmp_path, monkeypatch):
    saved = _figure_of(monkeypatch)
    methods = ["zero-fill", "gru-context", "backbone", "momke", "hardymer"]
    constant = {"acc2": 57.9, "acc2_has0": 59.8, "acc7": 19.3, "mae": 1.3}
    runs = [
        {**_run(m, c, s, _reg(70 + i + s, 0.8 + 0.01 * i)), CONSTANT_KEY: constant}
        for i, m in enumerate(methods)
        for c in CONDITIONS
        for s in (0, 1)
    ]
    assert _is_png(plot_condition_bars(runs, methods, "acc2", tmp_path / "acc2.png"))
    ax = saved[-1].axes[0]
    texts = _legend_texts(ax)
    assert texts[: len(methods)] == methods  # every plotted method, in order
    assert len(texts) == len(methods) + 1 and "constant prediction" in texts[-1] and "57.9" in texts[-1]
    (line,) = [line for line in ax.get_lines() if line.get_gid() == "constant"]
    assert np.allclose(line.get_ydata(), 57.9)
    lo, hi = ax.get_ylim()
    assert 40 < lo < 57.9 and hi > 70 + 4 + 1  # around the data and the line, not from 0
    assert _outside_axes(ax)
    # MAE: the axis starts near the data too, the reference is the constant's MAE
    plot_condition_bars(runs, methods, "mae", tmp_path / "mae.png")
    ax = saved[-1].axes[0]
    lo, hi = ax.get_ylim()
    assert 0.5 < lo < 0.8 and 1.3 < hi < 1.5
    (line,) = [line for line in ax.get_lines() if line.get_gid() == "constant"]
    assert np.allclose(line.get_ydata(), 1.3)
    assert "lower is better" in ax.get_ylabel()


def test_bars_without_constant_draw_chance_for_acc2_only(tmp_path, monkeypatch):
    saved = _figure_of(monkeypatch)
    runs = [_run("zero-fill", c, s, _reg(70 + s, 0.9)) for c in CONDITIONS for s in (0, 1)]
    plot_condition_bars(runs, ["zero-fill"], "acc2", tmp_path / "acc2.png")
    ax = saved[-1].axes[0]
    assert [tuple(line.get_ydata()) for line in ax.get_lines() if line.get_gid() == "constant"] == [(50.0, 50.0)]
    assert any("chance" in t for t in _legend_texts(ax))
    assert ax.get_ylim()[0] < 50.0
    plot_condition_bars(runs, ["zero-fill"], "mae", tmp_path / "mae.png")
    ax = saved[-1].axes[0]
    assert not [line for line in ax.get_lines() if line.get_gid() == "constant"]
    assert _legend_texts(ax) == ["zero-fill"]


def test_constant_predictor_metrics():
    y = np.array([1.0, 2.0, -1.0, 0.0, 0.4, -2.6])
    m = constant_predictor_metrics("regression", y)
    assert m["acc2"] == pytest.approx(100 * 3 / 5)  # non-zero: 3 positive, 2 negative
    assert m["acc2_has0"] == pytest.approx(100 * 4 / 6)  # >= 0: 4 of 6
    assert m["mae"] == pytest.approx(np.mean(np.abs(y - np.median(y))))
    assert m["acc7"] == pytest.approx(100 * 2 / 6)  # rounded: 1, 2, -1, 0, 0, -3
    # no constant scores higher than the reference
    for c in np.linspace(-3, 3, 61):
        got = regression_metrics(y, np.full_like(y, c))
        assert got["acc2"] <= m["acc2"] + 1e-9 and got["mae"] >= m["mae"] - 1e-9
    cls = constant_predictor_metrics("classification", np.array([2, 2, 0, 1, 2]))
    assert cls["wa"] == pytest.approx(60.0) and cls["ua"] == pytest.approx(100 / 3)


def test_hardness_plot_shows_dh_ih_s_with_caption(tmp_path, monkeypatch):
    saved = _figure_of(monkeypatch)
    d = _write_hardness(tmp_path / "hm", conds=MISSING_CONDITIONS + ("atv",), n=9, seed=3)
    assert _is_png(plot_hardness([d], tmp_path / "h.png"))
    fig = saved[-1]
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 3 and [t.split()[0] for t in titles] == ["DH", "IH", "s"]
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == list(MISSING_CONDITIONS)
    caption = " ".join(t.get_text() for t in fig.texts)
    assert "Not drawn: atv" in caption  # all zeros: it would only squash the axes
    assert "reconstruction error" in caption and "PMI" in caption
    assert "α1 = 0.60, α2 = 0.40" in caption  # recovered from the rows
    assert "uniform" in caption  # h under mapping=rank is not drawn
    assert "seed 3" in fig._suptitle.get_text()


def test_label_agreement_axis_names_the_quantity(tmp_path, monkeypatch):
    saved = _figure_of(monkeypatch)
    reg = _write_hardness(tmp_path / "reg", task="regression")
    plot_label_agreement([reg], tmp_path / "l.png")
    assert "sign of the anchor's score" in saved[-1].axes[0].get_ylabel()
    cls = _write_hardness(tmp_path / "cls", task="classification")
    plot_label_agreement([cls], tmp_path / "l.png")
    ax = saved[-1].axes[0]
    assert "anchor's class" in ax.get_ylabel() and _legend_texts(ax) == ["a", "at"]


def test_hardness_plots_none_without_hardymer_runs(tmp_path):
    assert plot_hardness([tmp_path], tmp_path / "h.png") is None
    assert plot_label_agreement([tmp_path], tmp_path / "l.png") is None
    assert not (tmp_path / "h.png").exists() and not (tmp_path / "l.png").exists()
    d = _write_hardness(tmp_path / "hm", conds=MISSING_CONDITIONS + ("atv",), n=5)
    assert _is_png(plot_hardness([d], tmp_path / "h.png"))
    assert _is_png(plot_label_agreement([d], tmp_path / "l.png"))
