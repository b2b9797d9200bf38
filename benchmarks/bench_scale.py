#!/usr/bin/env python
"""Hardness + retrieval precompute at large N: seconds, peak RSS and index recall.

Synthetic utterances with feature dims 512 / 1024 / 1024 (a, t, v): random vectors with a
low-dimensional structure (a 16-dimensional Gaussian latent per utterance through a random linear
map per modality, plus isotropic noise), every utterance in the training part. Timed parts:

1. indexes: one per modality (``build_indexes``; exact up to ``APPROX_MIN_ROWS`` rows, PCA+IVF with
   exact re-ranking above, tuned to recall@k >= 0.99 on a sample; the measured recall is reported);
2. neighbours for every training utterance under ``--conditions`` (``retrieve_neighbours``);
3. critics (``train_pair_critics`` on at most ``CRITIC_MAX_ROWS`` rows) and PMI of every row against
   a reference sample of ``PMI_REF_SIZE`` rows (``pair_pmi``), then IH for the seven conditions;
4. h and k from IH (``combine``/``to_hardness``/``neighbour_counts``).

Direct hardness (a teacher's forward pass over the training set) is not part of it.
Example (figures in benchmarks/README.md)::

    OMP_NUM_THREADS=1 python benchmarks/bench_scale.py --sizes 10000,100000 --out scale.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import numpy as np
import torch
from _machine import loadavg, machine_info, peak_rss_mb  # benchmarks/ is on sys.path when run as a script

from hardymer.conditions import CONDITIONS, MODALITIES
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.hardness.combine import combine, neighbour_counts, to_hardness
from hardymer.hardness.mi import critic_indirect_hardness, pair_pmi, train_pair_critics
from hardymer.retrieval.index import build_indexes, retrieve_neighbours

log = logging.getLogger("bench_scale")
DIMS = {"a": 512, "t": 1024, "v": 1024}


def synthetic(n: int, seed: int = 0, latent: int = 16, noise: float = 0.5) -> MultimodalDataset:
    """``n`` utterances in groups of 20, all in the training part, features with a shared latent."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent), dtype=np.float32)
    feats = {}
    for m, d in DIMS.items():
        w = rng.standard_normal((latent, d), dtype=np.float32) / np.sqrt(latent)
        x = z @ w
        x += noise * rng.standard_normal((n, d), dtype=np.float32)
        feats[m] = x
    idx = np.arange(n)
    return MultimodalDataset(
        name=f"scale{n}", task="regression", features=feats, available=np.ones((n, 3), bool),
        labels=np.clip(z[:, 0], -3, 3).astype(np.float32), groups=(idx // 20).astype(str), order=idx % 20,
        utt_ids=idx.astype(str), folds=[Split("0", idx, np.array([], np.int64), np.array([], np.int64))])


def run_size(n: int, conditions: list[str], K: int, critic_epochs: int, seed: int) -> dict:
    ds = synthetic(n, seed)
    train = ds.folds[0].train
    rec: dict = {"n": n, "dims": DIMS, "conditions": conditions, "K": K, "critic_epochs": critic_epochs,
                 "rss_after_data_mb": peak_rss_mb(), "seconds": {}}
    t = time.perf_counter()
    indexes = build_indexes(ds, train)
    rec["seconds"]["indexes"] = time.perf_counter() - t
    rec["index"] = {m: {"kind": i.kind, "recall": i.recall if i.recall is not None else 1.0} for m, i in indexes.items()}
    t = time.perf_counter()
    nbs = {c: retrieve_neighbours(ds, indexes, train, c, K) for c in conditions}
    rec["seconds"]["neighbours"] = time.perf_counter() - t
    rec["seconds"]["neighbours_per_condition"] = rec["seconds"]["neighbours"] / len(conditions)
    del indexes
    t = time.perf_counter()
    critics = train_pair_critics({m: ds.features[m] for m in MODALITIES}, epochs=critic_epochs, seed=seed)
    rec["seconds"]["critics"] = time.perf_counter() - t
    t = time.perf_counter()
    pmi = pair_pmi(critics, ds.features, seed=seed)
    rec["seconds"]["pmi"] = time.perf_counter() - t
    t = time.perf_counter()
    ks = {}
    for c in CONDITIONS:
        ih = critic_indirect_hardness(critics, ds.features, ds.available, c, seed=seed, pmi=pmi)
        ks[c] = neighbour_counts(to_hardness(combine(np.zeros(n), ih, 0.0, 1.0), "rank"), K)
    rec["seconds"]["ih_h_k_all_conditions"] = time.perf_counter() - t
    rec["seconds"]["total"] = sum(v for k, v in rec["seconds"].items() if k != "neighbours_per_condition")
    rec["peak_rss_mb"] = peak_rss_mb()
    rec["feature_mb"] = sum(x.nbytes for x in ds.features.values()) / 2**20
    rec["neighbours_found_share"] = {c: float((nb >= 0).mean()) for c, nb in nbs.items()}
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="comma list of N (one process per size is cleaner for RSS)")
    p.add_argument("--conditions", default="a,at", help="conditions whose neighbours are retrieved")
    p.add_argument("--K", type=int, default=3)
    p.add_argument("--critic-epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="JSON file for the results")
    p.add_argument("-v", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.v else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    from hardymer.retrieval.index import _faiss

    _faiss().omp_set_num_threads(args.threads)
    res = {"machine": machine_info(), "runs": []}
    for n in [int(s) for s in args.sizes.split(",")]:
        r = run_size(n, args.conditions.split(","), args.K, args.critic_epochs, args.seed)
        res["runs"].append(r)
        s = r["seconds"]
        sys.stdout.write(f"N={n}: total {s['total']:.1f} s (indexes {s['indexes']:.1f}, neighbours "
                         f"{s['neighbours_per_condition']:.1f}/condition, critics {s['critics']:.1f}, pmi {s['pmi']:.1f}, "
                         f"ih+h+k x7 {s['ih_h_k_all_conditions']:.1f}); peak RSS {r['peak_rss_mb']:.0f} MB "
                         f"(features {r['feature_mb']:.0f} MB); index "
                         + ", ".join(f"{m}:{i['kind']} recall {i['recall']:.4f}" for m, i in r["index"].items()) + "\n")
    res["loadavg_end"] = loadavg()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
