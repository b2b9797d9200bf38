#!/usr/bin/env python
"""Hardness + retrieval precompute at large N: CPU seconds, peak RSS and index recall.

Synthetic utterances with feature dims 512 / 1024 / 1024 (a, t, v): random vectors with a
low-dimensional structure (a 16-dimensional Gaussian latent per utterance through a random linear
map per modality, plus isotropic noise), generated in row blocks straight into float32 arrays,
every utterance in the training part. Timed parts (``time.process_time``, and wall seconds):

1. indexes: one per modality (``build_indexes``; exact up to ``APPROX_MIN_ROWS`` rows, PCA+IVF with
   exact re-ranking above, tuned to recall@8 >= 0.99 on 500 sampled rows; the measured recall is
   reported);
2. candidates: each modality searched once for every training utterance, with the distances the
   fused merge needs (``search_candidates``), then neighbours under every one of ``--conditions``
   merged from them (``retrieve_neighbours(candidates=...)``); ``--per-condition-search`` times the
   former way instead (every condition searches its modalities itself);
3. critics (``train_pair_critics`` on at most ``CRITIC_MAX_ROWS`` rows) and PMI of every row against
   a reference sample of ``PMI_REF_SIZE`` rows (``pair_pmi``), then IH for the seven conditions;
4. h and k from IH (``combine``/``to_hardness``/``neighbour_counts``).

Direct hardness (a teacher's forward pass over the training set) is not part of it.
Example (figures in benchmarks/README.md)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_scale.py --sizes 100000 --out scale.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import numpy as np
import torch
from _lib.machine import loadavg, machine_info, peak_rss_mb  # benchmarks/ is on sys.path when run as a script

from hardymer.conditions import CONDITIONS, MODALITIES
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.hardness.combine import combine, neighbour_counts, to_hardness
from hardymer.hardness.mi import critic_indirect_hardness, pair_pmi, train_pair_critics
from hardymer.retrieval.index import (
    _faiss,
    build_indexes,
    exact_search,
    recall_at_k,
    retrieve_neighbours,
    search_candidates,
)

log = logging.getLogger("bench_scale")
DIMS = {"a": 512, "t": 1024, "v": 1024}


def synthetic(n: int, seed: int = 0, latent: int = 16, noise: float = 0.5, block: int = 65_536) -> MultimodalDataset:
    """``n`` utterances in groups of 20, all in the training part, features with a shared latent.

    Generated in blocks of ``block`` rows into preallocated float32 arrays (the random stream is
    the same as drawing each modality's noise in one call)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent), dtype=np.float32)
    feats = {}
    for m, d in DIMS.items():
        w = rng.standard_normal((latent, d), dtype=np.float32) / np.sqrt(latent)
        x = np.empty((n, d), np.float32)
        for s in range(0, n, block):
            xb = x[s : s + block]
            np.matmul(z[s : s + block], w, out=xb)
            xb += noise * rng.standard_normal(xb.shape, dtype=np.float32)
        feats[m] = x
    idx = np.arange(n)
    return MultimodalDataset(
        name=f"scale{n}",
        task="regression",
        features=feats,
        available=np.ones((n, 3), bool),
        labels=np.clip(z[:, 0], -3, 3).astype(np.float32),
        groups=(idx // 20).astype(str),
        order=idx % 20,
        utt_ids=idx.astype(str),
        folds=[Split("0", idx, np.array([], np.int64), np.array([], np.int64))],
    )


class _Timer:
    """CPU (``process_time``) and wall seconds of named parts."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Part:
            def __enter__(self):
                self.c, self.w = time.process_time(), time.perf_counter()

            def __exit__(self, *exc):
                timer.cpu[name] = timer.cpu.get(name, 0.0) + time.process_time() - self.c
                timer.wall[name] = timer.wall.get(name, 0.0) + time.perf_counter() - self.w

        return _Part()


def run_size(
    n: int,
    conditions: list[str],
    K: int,
    critic_epochs: int,
    seed: int,
    pca_dim: int,
    per_condition_search: bool,
    recall_sample: int,
    query_share: float = 1.0,
) -> dict:
    tm = _Timer()
    with tm("data"):
        ds = synthetic(n, seed)
    train = ds.folds[0].train
    # neighbours for every training utterance, or (query_share < 1) for a seeded sample of them
    queries = (
        train
        if query_share >= 1.0
        else np.sort(np.random.default_rng(seed + 2).choice(train, int(round(query_share * len(train))), replace=False))
    )
    rec: dict = {
        "n": n,
        "queries": len(queries),
        "dims": DIMS,
        "conditions": conditions,
        "K": K,
        "critic_epochs": critic_epochs,
        "pca_dim": pca_dim,
        "per_condition_search": per_condition_search,
        "feature_mb": sum(x.nbytes for x in ds.features.values()) / 2**20,
        "rss_after_data_mb": peak_rss_mb(),
        "loadavg_start": loadavg(),
    }
    with tm("indexes"):
        indexes = build_indexes(ds, train, pca_dim=pca_dim)
    rec["index"] = {
        m: {
            "kind": i.kind,
            "recall_at_8": i.recall if i.recall is not None else 1.0,
            "nprobe": int(_faiss().extract_index_ivf(i.index).nprobe) if i.kind == "ivf" else None,
        }
        for m, i in indexes.items()
    }
    rec["rss_after_indexes_mb"] = peak_rss_mb()
    if recall_sample:  # fresh rows (not the tuning sample), outside the precompute total
        with tm("recall_check"):
            q = np.random.default_rng(seed + 1).choice(train, min(recall_sample, len(train)), replace=False)
            for m, i in indexes.items():
                exact = i.ids[exact_search(ds.features[m], i.ids, ds.features[m][q], 8, i.metric)[1]]
                rec["index"][m]["heldout_recall_at_8"] = recall_at_k(exact, i.search(ds.features[m][q], 8)[1])
    nbs = {}
    if per_condition_search:
        with tm("neighbours"):
            for c in conditions:
                nbs[c] = retrieve_neighbours(ds, indexes, queries, c, K)
        del indexes
    else:
        with tm("candidates"):
            cands = search_candidates(ds, indexes, queries, K)
        with tm("neighbours"):
            for c in conditions:
                nbs[c] = retrieve_neighbours(ds, indexes, queries, c, K, candidates=cands)
        del indexes, cands
    rec["rss_after_neighbours_mb"] = peak_rss_mb()
    with tm("critics"):
        critics = train_pair_critics({m: ds.features[m] for m in MODALITIES}, epochs=critic_epochs, seed=seed)
    with tm("pmi"):
        pmi = pair_pmi(critics, ds.features, seed=seed)
    with tm("ih_h_k_all_conditions"):
        for c in CONDITIONS:
            ih = critic_indirect_hardness(critics, ds.features, ds.available, c, seed=seed, pmi=pmi)
            neighbour_counts(to_hardness(combine(np.zeros(n), ih, 0.0, 1.0), "rank"), K)
    rec["cpu_seconds"] = dict(tm.cpu)
    rec["cpu_seconds"]["precompute_total"] = sum(v for k, v in tm.cpu.items() if k not in ("data", "recall_check"))
    rec["cpu_seconds"]["neighbours_per_condition"] = tm.cpu["neighbours"] / len(conditions)
    if len(queries) < len(train):  # search and merge cost per query: scaled to every training utterance
        f = len(train) / len(queries)
        rec["cpu_seconds_all_queries_extrapolated"] = {
            "candidates": tm.cpu.get("candidates", 0.0) * f,
            "neighbours": tm.cpu["neighbours"] * f,
            "precompute_total": rec["cpu_seconds"]["precompute_total"]
            + (f - 1) * (tm.cpu.get("candidates", 0.0) + tm.cpu["neighbours"]),
        }
    rec["wall_seconds"] = dict(tm.wall)
    rec["peak_rss_mb"] = peak_rss_mb()
    rec["loadavg_end"] = loadavg()
    rec["neighbours_found_share"] = {c: float((nb >= 0).mean()) for c, nb in nbs.items()}
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="comma list of N (one process per size is cleaner for RSS)")
    p.add_argument("--conditions", default=",".join(CONDITIONS), help="conditions whose neighbours are retrieved")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--critic-epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pca-dim", type=int, default=64, help="PCA dimension of the ivf indexes")
    p.add_argument(
        "--per-condition-search",
        action="store_true",
        help="every condition searches its modalities itself (the former way) instead of shared candidates",
    )
    p.add_argument(
        "--recall-sample",
        type=int,
        default=200,
        help="fresh rows for a held-out recall@8 check of each index (not in the precompute total; 0: none)",
    )
    p.add_argument(
        "--query-share",
        type=float,
        default=1.0,
        help="retrieve neighbours for this share of the training utterances (a seeded sample; "
        "search and merge CPU seconds are also reported scaled to all of them)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="JSON file for the results")
    p.add_argument("-v", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.v else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    _faiss().omp_set_num_threads(args.threads)
    res = {"machine": machine_info(), "runs": []}
    for n in [int(s) for s in args.sizes.split(",")]:
        r = run_size(
            n,
            args.conditions.split(","),
            args.K,
            args.critic_epochs,
            args.seed,
            args.pca_dim,
            args.per_condition_search,
            args.recall_sample,
            args.query_share,
        )
        res["runs"].append(r)
        if "cpu_seconds_all_queries_extrapolated" in r:
            scaled = {k: round(v, 1) for k, v in r["cpu_seconds_all_queries_extrapolated"].items()}
            sys.stdout.write(
                f"N={n}: neighbours for {r['queries']} queries; scaled to all: " + json.dumps(scaled) + "\n"
            )
        s = r["cpu_seconds"]
        sys.stdout.write(
            f"N={n}: precompute {s['precompute_total']:.1f} CPU s (indexes {s['indexes']:.1f}, candidates "
            f"{s.get('candidates', 0.0):.1f}, neighbours {s['neighbours_per_condition']:.1f}/condition x "
            f"{len(r['conditions'])}, critics {s['critics']:.1f}, pmi {s['pmi']:.1f}, ih+h+k x7 "
            f"{s['ih_h_k_all_conditions']:.1f}); peak RSS {r['peak_rss_mb']:.0f} MiB "
            f"(features {r['feature_mb']:.0f} MiB); "
            + ", ".join(
                f"{m}: {i['kind']} nprobe {i['nprobe']} recall@8 {i['recall_at_8']:.4f} (held-out "
                f"{i.get('heldout_recall_at_8', float('nan')):.4f})"
                for m, i in r["index"].items()
            )
            + "\n"
        )
    res["loadavg_end"] = loadavg()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
