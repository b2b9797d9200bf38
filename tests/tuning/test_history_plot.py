"""The optimisation-history figure of ``hardymer tune``: integer trial ticks, a title that names the search."""

from __future__ import annotations

from types import SimpleNamespace

from hardymer.tuning.report import history_figure, write_history_png


def _trial(number, state="COMPLETE", value=None):
    return SimpleNamespace(number=number, state=SimpleNamespace(name=state), value=value)


TRIALS = [_trial(0, value=1.3), _trial(1, "PRUNED"), _trial(2, value=1.1), _trial(3, value=1.2), _trial(4, "FAIL")]


def test_history_ticks_title_and_labels():
    fig = history_figure(TRIALS, "minimize", "mae", method="gru-context", conditions=["a", "tv"])
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert {0, 1, 2, 3} <= {int(t) for t in ticks}  # every trial number up to the last one drawn
    title = ax.get_title()
    for word in ("gru-context", "conditions a, tv", "validation mae", "minimize"):
        assert word in title
    assert "trial number" in ax.get_xlabel() and "3 of 5 complete" in ax.get_xlabel()
    assert "mae" in ax.get_ylabel() and "lower is better" in ax.get_ylabel()
    # best so far: the running minimum over the complete trials
    (step,) = [line for line in ax.get_lines() if line.get_label() == "best so far"]
    assert list(step.get_ydata()) == [1.3, 1.1, 1.1]


def test_history_maximize_and_png(tmp_path):
    fig = history_figure(TRIALS, "maximize", "wa", conditions="six missing conditions (unified)")
    ax = fig.axes[0]
    assert "six missing conditions (unified)" in ax.get_title() and "higher is better" in ax.get_ylabel()
    (step,) = [line for line in ax.get_lines() if line.get_label() == "best so far"]
    assert list(step.get_ydata()) == [1.3, 1.3, 1.3]
    path = write_history_png(TRIALS, tmp_path / "history.png", "maximize", "wa", method="zero-fill")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
