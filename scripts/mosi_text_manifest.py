"""Write a `hardymer extract` manifest (text only) from CMU-MOSI's ``transcripts.csv`` (Poria layout).

transcripts.csv has no header: ``utt_id, TRANSCRIPT, video_index (1..93), binary_label``. The manifest
gets columns id, group (= video_index), order (clip number rank inside the video),
label (the binary label), text. Usage:

    python scripts/mosi_text_manifest.py --transcripts ../shared/data/mosi-poria/transcripts.csv \\
        --out runs/extract/mosi-text-manifest.csv
    hardymer extract --manifest runs/extract/mosi-text-manifest.csv --out runs/extract/mosi-minilm.npz \\
        --text-backend minilm
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from hardymer._io import atomic_write


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--transcripts",
        default="../shared/data/mosi-poria/transcripts.csv",
        help="Poria's transcripts.csv (default: %(default)s, relative to the current folder)",
    )
    ap.add_argument("--out", default="runs/extract/mosi-text-manifest.csv", help="manifest to write (%(default)s)")
    args = ap.parse_args(argv)
    src = Path(args.transcripts)
    if not src.is_file():
        print(f"error: {src} not found", file=sys.stderr)
        return 2
    with open(src, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    parsed = []
    for line, r in enumerate(rows, 1):
        if len(r) != 4:
            print(
                f"error: {src}:{line}: expected 4 cells (utt_id, transcript, video_index, label), got {len(r)}",
                file=sys.stderr,
            )
            return 2
        parsed.append([c.strip() for c in r])
    # order inside a video: the clip number of `<video_id>_<clip_no>` when every id has one
    # (the file is sorted as strings: _1, _10, _11, ..., _2), else the order of the file
    by_video: dict[str, list[int]] = {}
    for i, (_, _, video, _) in enumerate(parsed):
        by_video.setdefault(video, []).append(i)
    clip = [u.rsplit("_", 1)[-1] for u, _, _, _ in parsed]
    use_clip = all(c.isdigit() for c in clip)
    order = [0] * len(parsed)
    for idx in by_video.values():
        for k, i in enumerate(sorted(idx, key=lambda i: int(clip[i])) if use_clip else idx):
            order[i] = k
    out_rows = [[u, video, order[i], label, text] for i, (u, text, video, label) in enumerate(parsed)]
    seen = by_video
    out = Path(args.out)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "group", "order", "label", "text"])
            w.writerows(out_rows)

    atomic_write(out, write)
    print(f"{len(out_rows)} utterances, {len(seen)} videos -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
