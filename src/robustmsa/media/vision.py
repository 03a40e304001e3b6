"""Vision extractor: MediaPipe FaceMesh landmarks per frame (offline, Apache-2.0 models).

Needs ``mediapipe==0.10.21`` (the last release bundling the legacy ``solutions`` models; install
it with ``--no-deps``). Frames are decoded with PyAV and resampled to ``fps`` (default 10);
FaceMesh runs in tracking mode (``static_image_mode=False, max_num_faces=1,
refine_landmarks=True``) and is reset at the start of every clip.

Per frame, **1441 columns**:

* 478 x (x, y, z) landmarks in pixel units, centred on their centroid and divided by the
  inter-ocular distance (3-D distance between the outer eye corners, landmarks 33 and 263),
  flattened as x0, y0, z0, x1, ... (1434 columns);
* 7 distances divided by the inter-ocular distance: mouth opening (13-14), mouth width
  (61-291), right / left eye opening (159-145, 386-374), right / left brow-to-eye
  (105-159, 334-386) and lip-to-chin (17-152).

Frames without a face get zero rows and ``frame_mask`` False. **Missing rule:** the vision
modality is missing when a face is found in fewer than ``min_face_fraction`` (default 10 %) of
the sampled frames, when there is no video stream, or when no video is given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from robustmsa.errors import ConfigError
from robustmsa.media.base import Extractor, ModalityFeatures
from robustmsa.media.decode import iter_video_frames, prefetch
from robustmsa.media.registry import EXTRACTORS

log = logging.getLogger(__name__)

N_LANDMARKS = 478
EYE_OUTER = (33, 263)
GEOMETRY_PAIRS: tuple[tuple[str, int, int], ...] = (
    ("mouth_open", 13, 14),
    ("mouth_width", 61, 291),
    ("eye_open_r", 159, 145),
    ("eye_open_l", 386, 374),
    ("brow_eye_r", 105, 159),
    ("brow_eye_l", 334, 386),
    ("lip_chin", 17, 152),
)
DIM = N_LANDMARKS * 3 + len(GEOMETRY_PAIRS)


def normalise_landmarks(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """One frame's feature row from FaceMesh output.

    Args:
        points: (478, 3) FaceMesh coordinates (x, y in [0, 1] of the image, z on the x scale).
        width, height: image size in pixels.

    Returns:
        (1441,) float32: centred landmarks / inter-ocular distance, then the 7 distances.
    """
    p = points.astype(np.float64) * np.array([width, height, width], dtype=np.float64)
    iod = float(np.linalg.norm(p[EYE_OUTER[0]] - p[EYE_OUTER[1]]))
    iod = max(iod, 1e-6)
    centred = (p - p.mean(axis=0)) / iod
    geom = [np.linalg.norm(p[a] - p[b]) / iod for _, a, b in GEOMETRY_PAIRS]
    return np.concatenate([centred.reshape(-1), np.asarray(geom)]).astype(np.float32)


@dataclass
class FaceMeshConfig:
    """Options of `FaceMeshVisionExtractor`.

    Attributes:
        fps: frames per second sampled from the video (0: every frame).
        max_side: frames are downscaled so their longer side is at most this (0: keep);
            720p is kept as is (scaling costs more than it saves), larger frames are reduced.
        min_detection_confidence, min_tracking_confidence: FaceMesh thresholds.
        skip_nonref: let the decoder skip non-reference frames (faster on long clips).
        min_face_fraction: a face in fewer sampled frames than this -> vision missing.
        prefetch: frames decoded ahead in a background thread (0: decode in line); decoding
            and FaceMesh then overlap on two cores. Does not change the features.
    """

    fps: float = 10.0
    max_side: int = 1280
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    skip_nonref: bool = False
    min_face_fraction: float = 0.1
    prefetch: int = 8


@EXTRACTORS.register("facemesh")
class FaceMeshVisionExtractor(Extractor):
    """MediaPipe FaceMesh (478 refined landmarks) + 7 face distances per sampled frame."""

    name = "facemesh"
    modality = "vision"
    Config = FaceMeshConfig
    VERSION = 1
    RUNTIME_FIELDS = ("min_face_fraction", "prefetch")

    def __init__(self, config: FaceMeshConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if self.config.fps < 0:
            raise ConfigError(f"vision fps must be >= 0; got {self.config.fps}")
        self._mesh = None

    @property
    def dim(self) -> int:
        return DIM

    def feature_names(self) -> list[str]:
        lm = [f"lm{i}_{a}" for i in range(N_LANDMARKS) for a in "xyz"]
        return lm + [g[0] for g in GEOMETRY_PAIRS]

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["rate"] = f"{self.config.fps:g} fps" if self.config.fps else "native fps"
        return d

    def load(self) -> None:
        """Create the FaceMesh graph (once per object)."""
        if self._mesh is not None:
            return
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as e:
            raise ConfigError(
                "the vision extractor needs mediapipe==0.10.21 (pip install --no-deps "
                "mediapipe==0.10.21; later releases ship no models) and matplotlib"
            ) from e
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        # one blank frame now, so the graph's native start-up (and its log lines, which
        # robustmsa.media.quiet keeps off the terminal) happens inside load(); extract_frames
        # resets the tracking state before every clip
        self._mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def close(self) -> None:
        """Release the FaceMesh graph."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def extract_frames(
        self, frames: Iterable[np.ndarray], times: list[float] | None = None
    ) -> ModalityFeatures:
        """Features of a sequence of RGB uint8 (H, W, 3) frames of one clip.

        ``times`` (filled while ``frames`` is consumed, one entry per frame) gives the frame
        times in seconds; without it frames are taken to be ``1 / fps`` apart (1/30 s when
        ``fps`` is 0, i.e. every decoded frame).
        """
        self.load()
        self._mesh.reset()  # no tracking state carried over from the previous clip
        rows: list[np.ndarray] = []
        mask: list[bool] = []
        for rgb in frames:
            res = self._mesh.process(np.ascontiguousarray(rgb))
            faces = res.multi_face_landmarks
            if faces:
                pts = np.array([(q.x, q.y, q.z) for q in faces[0].landmark], dtype=np.float64)
                rows.append(normalise_landmarks(pts, rgb.shape[1], rgb.shape[0]))
                mask.append(True)
            else:
                rows.append(np.zeros(DIM, dtype=np.float32))
                mask.append(False)
        n, found = len(rows), int(sum(mask))
        stats: dict[str, Any] = {
            "frames": n,
            "face_frames": found,
            "face_fraction": round(found / n, 4) if n else 0.0,
            "fps": self.config.fps,
        }
        if n == 0:
            return ModalityFeatures.missing("vision", DIM, "video has no decodable frames", **stats)
        if found < self.config.min_face_fraction * n or found == 0:
            return ModalityFeatures.missing(
                "vision",
                DIM,
                f"face found in {found}/{n} frames (needs {self.config.min_face_fraction:.0%})",
                **stats,
            )
        if times is not None and len(times) == n:
            t = np.asarray(times, dtype=np.float64)
        else:
            t = np.arange(n, dtype=np.float64) / (self.config.fps or 30.0)
        return ModalityFeatures(
            modality="vision",
            features=np.stack(rows),
            present=True,
            frame_mask=np.asarray(mask, dtype=bool),
            stats=stats,
            times=t,
        )

    def extract(
        self, video: str | os.PathLike | None, missing_reason: str = "no video given"
    ) -> ModalityFeatures:
        """Features of the video file ``video`` (None: missing with ``missing_reason``)."""
        if video is None:
            return ModalityFeatures.missing("vision", DIM, missing_reason)
        frames = iter_video_frames(
            video,
            self.config.fps or None,
            max_side=self.config.max_side or None,
            skip_nonref=self.config.skip_nonref,
        )
        if self.config.prefetch > 0:
            frames = prefetch(frames, self.config.prefetch)
        times: list[float] = []

        def rgb_frames(pairs):
            for t, rgb in pairs:
                times.append(float(t))
                yield rgb

        return self.extract_frames(rgb_frames(frames), times)
