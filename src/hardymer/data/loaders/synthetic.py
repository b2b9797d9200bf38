"""``synthetic``: the built-in default dataset, deterministic from a seed.

Groups of utterances (like dialogues) with a latent emotion per utterance and a group-level
context; three modalities of different dimension and informativeness (text strongest, audio and
video weaker, as in real data). Each utterance draws a per-modality *clarity*: sometimes a
modality carries almost nothing about the label, so that the sample becomes hard exactly when
the informative modality is missing. Classification (4 classes) and regression (scores in
[-3, 3], like CMU-MOSI/MOSEI) variants; sizes from ``tiny`` (tests) to ``mosei`` (~23k utt.).

``scenario="private"`` is a testbed where hardness is known and matters (see
``make_private_scenario`` and docs/data-formats.md).
"""

from __future__ import annotations

import inspect
from typing import Any, cast

import numpy as np

from hardymer.conditions import MODALITIES
from hardymer.data.dataset import MultimodalDataset, Split, Task
from hardymer.data.registry import register_dataset
from hardymer.errors import ConfigError

SIZES = {"tiny": 24, "small": 240, "medium": 800, "mosei": 3200}
CLASS_NAMES = ["happy", "sad", "neutral", "angry"]
SCENARIOS = ("default", "private")


def natural_availability(rng: np.random.Generator, n: int, missing_rate: float) -> np.ndarray:
    """[n, 3] availability: each modality naturally missing with ``missing_rate`` (text kept when
    all three would vanish); no draw at all when the rate is 0."""
    available = np.ones((n, 3), dtype=bool)
    if missing_rate > 0:
        drop = rng.random((n, 3)) < missing_rate
        drop[drop.all(1), 1] = False  # keep text when everything would vanish
        available &= ~drop
    return available


def group_split(
    rng: np.random.Generator, gid: np.ndarray, n_groups: int, split: tuple[float, float, float]
) -> dict[str, np.ndarray]:
    """Utterance indices of train / val / test, splitting whole groups in the proportions ``split``."""
    perm = rng.permutation(n_groups)
    n_tr = int(round(split[0] * n_groups))
    n_va = int(round(split[1] * n_groups))
    parts = {"train": perm[:n_tr], "val": perm[n_tr : n_tr + n_va], "test": perm[n_tr + n_va :]}
    return {p: np.flatnonzero(np.isin(gid, g)) for p, g in parts.items()}


def make_synthetic(
    seed: int = 0,
    task: str | None = None,
    size: str = "small",
    n_groups: int | None = None,
    mean_len: float = 7.1,
    dims: tuple[int, int, int] | None = None,
    strength: tuple[float, float, float] = (0.6, 1.0, 0.45),
    ambiguity: float = 0.3,
    latent_dim: int = 16,
    missing_rate: float = 0.0,
    split: tuple[float, float, float] = (0.7, 0.1, 0.2),
    scenario: str = "default",
    **private_options: Any,
) -> MultimodalDataset:
    """Generate the synthetic dataset.

    Args:
        seed: generator seed (the whole dataset is a function of the arguments).
        task: ``"classification"`` (4 classes) or ``"regression"`` (scores in [-3, 3]); default
            classification, regression for ``scenario="private"``.
        size: preset number of groups (``tiny``/``small``/``medium``/``mosei``); ``n_groups`` overrides.
        dims: feature dims of (audio, text, video); default (48, 64, 32).
        strength: signal-to-noise of (audio, text, video).
        ambiguity: per (utterance, modality) probability that the modality is uninformative.
        missing_rate: probability that a modality is naturally missing (never all three).
        scenario: ``"default"`` (this generator) or ``"private"`` (``make_private_scenario``, which
            receives ``seed``, ``task``, ``size``, ``n_groups``, ``mean_len``, ``dims``,
            ``missing_rate``, ``split`` and ``private_options``).
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"synthetic: scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")
    if scenario == "private":
        return make_private_scenario(
            seed=seed,
            task=task or "regression",
            size=size,
            n_groups=n_groups,
            mean_len=mean_len,
            dims=dims,
            missing_rate=missing_rate,
            split=split,
            **private_options,
        )
    if private_options:
        raise ConfigError(f"synthetic: option(s) {', '.join(sorted(private_options))} need scenario=private")
    task = task or "classification"
    dims = dims if dims is not None else (48, 64, 32)
    if task not in ("classification", "regression"):
        raise ValueError(f"synthetic: task must be classification or regression, got {task!r}")
    if n_groups is None:
        if size not in SIZES:
            raise ValueError(f"synthetic: unknown size {size!r}; sizes: {', '.join(SIZES)}")
        n_groups = SIZES[size]
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.poisson(mean_len - 2, n_groups) + 2, 2, 30)
    n = int(lengths.sum())
    gid = np.repeat(np.arange(n_groups), lengths)
    order = np.concatenate([np.arange(k) for k in lengths])

    # group context and group mood: neighbouring utterances share information
    context = rng.normal(size=(n_groups, latent_dim)) * 0.6
    if task == "classification":
        k = len(CLASS_NAMES)
        protos = rng.normal(size=(k, latent_dim))
        protos /= np.linalg.norm(protos, axis=1, keepdims=True) / 1.6
        mood = rng.dirichlet(np.full(k, 0.6), size=n_groups)
        labels = np.array([rng.choice(k, p=mood[g]) for g in gid], dtype=np.int64)
        z = protos[labels]
    else:
        mood = rng.normal(0, 1.2, size=n_groups)
        score = np.clip(rng.normal(mood[gid], 1.1), -3, 3)
        labels = (np.round(score * 5) / 5).astype(np.float32)  # MOSI-like 0.2 grid, some exact zeros
        direction = rng.normal(size=latent_dim)
        direction /= np.linalg.norm(direction)
        z = np.outer(labels / 1.5, direction) + rng.normal(size=(n, latent_dim)) * 0.25
    z = z + context[gid] * 0.5 + rng.normal(size=(n, latent_dim)) * 0.35

    feats = {}
    clarity = np.where(rng.random((n, 3)) < ambiguity, 0.05, 1.0)
    for j, (m, d) in enumerate(zip(("a", "t", "v"), dims)):
        w = rng.normal(size=(latent_dim, d)) / np.sqrt(latent_dim)
        signal = (z * clarity[:, j : j + 1] * strength[j]) @ w
        if m != "t":  # audio and video are non-linear views
            signal = np.tanh(signal * 1.5)
        noise = rng.normal(size=(n, d)) * 0.8
        feats[m] = (signal + noise).astype(np.float32)

    available = natural_availability(rng, n, missing_rate)
    idx = group_split(rng, gid, n_groups, split)
    groups = np.array([f"g{g:05d}" for g in gid])
    return MultimodalDataset(
        name="synthetic",
        task=cast(Task, task),  # checked above
        features=feats,
        available=available,
        labels=labels,
        groups=groups,
        order=order.astype(np.int64),
        utt_ids=np.array([f"g{g:05d}_u{o:03d}" for g, o in zip(gid, order)]),
        folds=[Split("default", idx["train"], idx["val"], idx["test"])],
        class_names=list(CLASS_NAMES) if task == "classification" else None,
        label_range=(-3.0, 3.0) if task == "regression" else None,
        meta={"seed": seed, "size": size, "n_groups": n_groups, "clarity": clarity.astype(np.float32)},
    )


# ---------------------------------------------------------------------- scenario=private
PRIVATE_SIZES = {"tiny": 12, "small": 120, "large": 360}
PRIVATE_CLASS_EDGES = {2: (0.0,), 4: (-0.85, 0.0, 0.85)}
PRIVATE_CLASS_NAMES = {2: ["negative", "positive"], 4: ["very negative", "negative", "positive", "very positive"]}
SEMANTIC_DIM = 8
PRIVATE_DIM = 4


def semantic_label(s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """f(s) = 1.5·tanh(2·w1·s)·cos(2·w2·s) + 0.6·w3·s: sharply varying, so label smoothing over
    neighbours in s costs accuracy; ``w`` holds the unit projections w1, w2, w3 as columns."""
    z = s @ w
    return 1.5 * np.tanh(2.0 * z[:, 0]) * np.cos(2.0 * z[:, 1]) + 0.6 * z[:, 2]


def make_private_scenario(
    seed: int = 0,
    task: str = "regression",
    size: str = "small",
    n_groups: int | None = None,
    mean_len: float = 7.1,
    dims: tuple[int, int, int] | None = None,
    missing_rate: float = 0.0,
    split: tuple[float, float, float] = (0.7, 0.1, 0.2),
    rho: float = 0.3,
    beta: float = 1.5,
    gamma: float = 2.0,
    noise: float = 0.5,
    label_noise: float = 0.1,
    private: str = "t",
    n_classes: int = 4,
    force_hard: bool | None = None,
) -> MultimodalDataset:
    """A testbed where hardness is known and matters.

    Utterances are i.i.d. (groups only batch them; context carries nothing). Shared semantics
    s ~ N(0, I_8), a private signal u ~ N(0, I_4) and hard ~ Bernoulli(rho) per utterance;
    y = clip(f(s) + hard·beta·(v·u) + label_noise·ε, −3, 3) with ``semantic_label`` f and a unit v.
    Audio = tanh of a random projection of s plus noise (clean non-linear view), text = a linear
    view of s plus noise, video = a weak (0.3×) linear view of s plus noise; the ``private``
    modality additionally carries hard·gamma·W_u·u. Every random draw is made whatever ``hard``
    is, so ``force_hard`` (all hard / all easy) changes the private modality's features of the
    affected rows and the labels only. Classification bins y at fixed edges (2 classes: sign;
    4 classes: −0.85, 0, 0.85, about quartiles under the defaults).

    ``utt_meta`` holds ``hard`` (bool) and ``private_contribution`` (hard·beta·(v·u), float32).

    Args:
        rho: probability that an utterance is hard. beta: weight of the private term in the label
            (0: the null scenario, ``hard`` is irrelevant to the label). gamma: strength of the
            private signal in the private modality. noise: feature noise std. label_noise: label
            noise std. private: the modality holding u (``a``/``t``/``v``). n_classes: 2 or 4.
        force_hard: ``None`` draws hard ~ Bernoulli(rho); ``True``/``False`` set it for everyone.
        size: ``tiny``/``small`` (default)/``large`` (3× the groups of ``small``); ``n_groups`` overrides.
        dims: feature dims of (audio, text, video); default (32, 48, 16).
    """
    name = "synthetic"
    if task not in ("classification", "regression"):
        raise ConfigError(f"synthetic: task must be classification or regression, got {task!r}")
    if private not in MODALITIES:
        raise ConfigError(f"synthetic: private must be one of a, t, v, got {private!r}")
    if not 0.0 <= float(rho) <= 1.0:
        raise ConfigError(f"synthetic: rho must be in [0, 1], got {rho!r}")
    for opt, val in (("beta", beta), ("gamma", gamma), ("noise", noise), ("label_noise", label_noise)):
        if float(val) < 0:
            raise ConfigError(f"synthetic: {opt} must be >= 0, got {val!r}")
    if task == "classification" and n_classes not in PRIVATE_CLASS_EDGES:
        raise ConfigError(f"synthetic: n_classes must be 2 or 4, got {n_classes!r}")
    if n_groups is None:
        if size not in PRIVATE_SIZES:
            raise ConfigError(
                f"synthetic: unknown size {size!r} for scenario=private; sizes: {', '.join(PRIVATE_SIZES)}"
            )
        n_groups = PRIVATE_SIZES[size]
    if int(n_groups) < 3:
        raise ConfigError(f"synthetic: n_groups must be >= 3, got {n_groups!r}")
    n_groups = int(n_groups)
    feat_dims = tuple(int(d) for d in (dims if dims is not None else (32, 48, 16)))
    if len(feat_dims) != 3 or min(feat_dims) < 1:
        raise ConfigError(f"synthetic: dims must be three positive ints (audio, text, video), got {feat_dims!r}")

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.poisson(mean_len - 2, n_groups) + 2, 2, 30)
    n = int(lengths.sum())
    gid = np.repeat(np.arange(n_groups), lengths)
    order = np.concatenate([np.arange(k) for k in lengths])

    w, _ = np.linalg.qr(rng.normal(size=(SEMANTIC_DIM, SEMANTIC_DIM)))
    w = w[:, :3]
    v = rng.normal(size=PRIVATE_DIM)
    v /= np.linalg.norm(v)
    s = rng.normal(size=(n, SEMANTIC_DIM))
    u = rng.normal(size=(n, PRIVATE_DIM))
    hard = rng.random(n) < rho  # drawn even when forced, so that every later draw is the same
    if force_hard is not None:
        hard = np.full(n, bool(force_hard))
    eps = rng.normal(size=n)
    contribution = hard * beta * (u @ v)
    y = np.clip(semantic_label(s, w) + contribution + label_noise * eps, -3.0, 3.0)

    views = {
        "a": lambda p: np.tanh(1.5 * s @ p),
        "t": lambda p: s @ p,
        "v": lambda p: 0.3 * (s @ p),
    }
    feats = {}
    for m, d in zip(MODALITIES, feat_dims):
        proj = rng.normal(size=(SEMANTIC_DIM, d)) / np.sqrt(SEMANTIC_DIM)
        w_u = rng.normal(size=(PRIVATE_DIM, d)) / np.sqrt(PRIVATE_DIM)
        x = views[m](proj) + noise * rng.normal(size=(n, d))
        if m == private:
            x = x + hard[:, None] * gamma * (u @ w_u)
        feats[m] = x.astype(np.float32)

    available = natural_availability(rng, n, missing_rate)
    idx = group_split(rng, gid, n_groups, split)
    if task == "classification":
        labels = np.digitize(y, PRIVATE_CLASS_EDGES[n_classes]).astype(np.int64)
        class_names: list[str] | None = list(PRIVATE_CLASS_NAMES[n_classes])
    else:
        labels = y.astype(np.float32)
        class_names = None
    return MultimodalDataset(
        name=name,
        task=cast(Task, task),  # checked above
        features=feats,
        available=available,
        labels=labels,
        groups=np.array([f"g{g:05d}" for g in gid]),
        order=order.astype(np.int64),
        utt_ids=np.array([f"g{g:05d}_u{o:03d}" for g, o in zip(gid, order)]),
        folds=[Split("default", idx["train"], idx["val"], idx["test"])],
        class_names=class_names,
        label_range=(-3.0, 3.0) if task == "regression" else None,
        meta={
            "seed": seed,
            "scenario": "private",
            "size": size,
            "n_groups": n_groups,
            "rho": rho,
            "beta": beta,
            "gamma": gamma,
            "noise": noise,
            "label_noise": label_noise,
            "private": private,
            "force_hard": force_hard,
        },
        utt_meta={"hard": hard.copy(), "private_contribution": contribution.astype(np.float32)},
    )


#: options ``make_synthetic`` forwards to ``make_private_scenario`` (checked before any data is made)
_PRIVATE_OPTIONS = tuple(n for n in inspect.signature(make_private_scenario).parameters if n != "seed")


@register_dataset("synthetic", loader=make_synthetic, extra_options=_PRIVATE_OPTIONS)
def _synthetic(root: str | None = None, **kw: Any) -> MultimodalDataset:
    return make_synthetic(**kw)
