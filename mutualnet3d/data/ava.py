"""AVA v2.2 action detection: PySlowFast's frame lists and box csvs -> clips with boxes.

The files are those of :mod:`~mutualnet3d.data.ava_annotations` (frames, frame lists,
box csvs, label map). A sample is one key frame (second 902-1798, PySlowFast's
``AVA_VALID_FRAMES``) of a listed video that has at least one box: the clip is
``num_frames`` frames ``sampling_rate`` apart around key frame ``(second - 900) * fps``
of the list (indices clamped to the video), and the boxes of that second travel with
the clip through the spatial transforms.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import torch

from . import transforms as T
from .ava_annotations import AVA_FIRST_SECOND, BoxIndex, read_box_csvs, read_labelmap
from .frame_lists import read_frame_lists
from .frames import load_frames
from .specs import ClipSampling, Normalization, RetryPolicy, SpatialSampling, check_split
from .video_dataset import VideoDataset

__all__ = ["Ava"]

#: the boxes of one key frame: (box (x1, y1, x2, y2) normalised, sorted action ids) each
Boxes = list[tuple[tuple[float, float, float, float], list[int]]]


class Ava(VideoDataset):
    """AVA key frames as normalised clips with person boxes and multi-hot actions.

    Each item is a dict:

    * ``inputs``: list per pathway of float (C, T, H, W) clips, normalised with
      ``normalization`` (T = ``sampling.num_frames``, or ``num_frames // alpha`` for the
      Slow pathway, as :class:`~mutualnet3d.data.kinetics.Kinetics`);
    * ``boxes``: float (K, 4) ``x1, y1, x2, y2`` in pixels of the returned clip, clipped
      to it (what the models' ``VideoDetector`` pools);
    * ``ori_boxes``: float (K, 4) the same boxes as read, normalised to [0, 1] (what the
      evaluation writes, :func:`~mutualnet3d.evaluation.ava.detections_from_predictions`);
    * ``labels``: float (K, num_classes) multi-hot; action id ``a`` is column ``a - 1``;
      ``num_classes`` is the argument (MODEL.NUM_CLASSES, as PySlowFast), by default the
      label map's largest id (80 for AVA v2.2, of which the 60 listed are evaluated;
      training uses all 80, as PySlowFast); a label map id above it is a ValueError;
    * ``metadata``: int64 (K, 2) ``[video index, second]`` per box;
    * ``index``: the dataset index.

    Boxes: train uses the groundtruth plus predicted boxes scored ``>=
    detection_score_thresh`` (:func:`~mutualnet3d.data.ava_annotations.read_box_csvs`);
    val and test use the predicted boxes when ``predicted_box_csvs`` is given (their
    labels are all 0), else the groundtruth.

    Spatial sampling (PySlowFast's ``ava_dataset``, cv2 backend), boxes transformed with
    the frames:

    * train: short side scaled to a size drawn uniformly in ``jitter_scales`` (PySlowFast
      draws no inverse-uniform scale for AVA: ``inverse_uniform`` is not used), a random
      ``crop_size`` square, a horizontal flip with probability 0.5 if ``random_flip``;
      boxes that leave the crop are clipped to it (possibly to zero area) and kept;
    * val: short side scaled to ``test_crop_size``, centre ``test_crop_size`` square;
    * test: short side scaled to ``test_crop_size``, the whole frame (so people at the
      edges keep their boxes); clips of other aspect ratios differ in width, which
      :func:`~mutualnet3d.data.collate.ava_collate` pads.

    Boxes are continuous coordinates (pixel ``j`` spans ``[j, j + 1)``): a scale multiplies
    x by new width / old width and y likewise, a crop subtracts its offset, a flip maps
    ``x -> W - x``. (PySlowFast's cv2 code flips to ``W - 1 - x`` and clips to ``W - 1``,
    a legacy of inclusive pixel boxes; here the geometry is exact for RoIAlign with
    ``aligned=True``.)

    ``second_stride``: only key frames of seconds that are multiples of it (PySlowFast
    validates on every 4th second unless AVA.FULL_TEST_ON_VAL).

    Broken frames, as :class:`~mutualnet3d.data.charades.Charades`: a missing, empty or
    corrupt frame file fails its clip with a warning naming it
    (:class:`~mutualnet3d.data.video_dataset.VideoDecodeWarning`) and is counted in
    :attr:`failures`; train then tries another key frame drawn at random, up to
    ``retry.max_retries`` times, while val/test retry the same key frame (its boxes are
    scored) and then raise ``RuntimeError`` naming the file.
    ``retry.max_failure_ratio`` (None: off) raises once more than that fraction of the
    key frames has failed.

    The frame lists hold ``fps`` frames a second (AVA's extracted frames: 30). Test
    views (:class:`~mutualnet3d.data.specs.TestViews`) do not apply: each key frame is
    one sample. Randomness: see ``seed`` in
    :class:`~mutualnet3d.data.video_dataset.VideoDataset` (call :meth:`set_epoch`).
    """

    REPLACE_SPLITS = ("train",)
    NEVER_REPLACED = "; evaluated key frames are never replaced"

    def __init__(
        self,
        frame_list_csvs: Sequence[str],
        gt_box_csvs: Sequence[str],
        split: str,
        *,
        frame_dir: str,
        label_map_pbtxt: str,
        predicted_box_csvs: Sequence[str] = (),
        detection_score_thresh: float = 0.8,
        sampling: ClipSampling,
        spatial: SpatialSampling = SpatialSampling(test_crop_size=224),
        normalization: Normalization,
        retry: RetryPolicy = RetryPolicy(),
        alpha: Optional[int] = None,
        fps: int = 30,
        seed: Optional[int] = None,
        second_stride: int = 1,
        num_classes: Optional[int] = None,
        allow_duplicates: bool = True,
    ) -> None:
        check_split(split)  # first: which boxes are read depends on it
        if fps < 1 or second_stride < 1:
            raise ValueError(f"need fps and second_stride >= 1, got {fps}, {second_stride}")
        self.second_stride = second_stride
        if split == "train" and not spatial.crop_size <= spatial.jitter_scales[0]:
            raise ValueError(f"crop_size {spatial.crop_size} must be in (0, jitter_scales[0]]")
        self.fps = fps
        self.categories, self.class_whitelist = read_labelmap(label_map_pbtxt)
        # PySlowFast's targets are MODEL.NUM_CLASSES wide, action id a in column a - 1.
        self.num_classes = num_classes or max(self.class_whitelist)
        if max(self.class_whitelist) > self.num_classes:
            raise ValueError(
                f"{label_map_pbtxt}: action id {max(self.class_whitelist)} does not fit "
                f"{self.num_classes} classes (MODEL.NUM_CLASSES)"
            )
        self.video_names, self.frame_paths, _ = read_frame_lists(
            frame_list_csvs, prefix=frame_dir, allow_duplicates=allow_duplicates
        )
        if split == "train":
            gt, predicted = gt_box_csvs, predicted_box_csvs
        elif predicted_box_csvs:
            gt, predicted = (), predicted_box_csvs
        else:
            gt, predicted = gt_box_csvs, ()
        boxes = read_box_csvs(gt, predicted, detection_score_thresh, self.num_classes)
        self.samples, self.boxes = self._key_frames(boxes)
        if not self.samples:
            raise ValueError(
                f"{split}: no key frame of the {len(self.video_names)} listed videos has boxes"
            )
        super().__init__(
            split, source=", ".join(map(str, frame_list_csvs)), unit="key frames",
            num_samples=len(self.samples), sampling=sampling, spatial=spatial,
            normalization=normalization, retry=retry, alpha=alpha, seed=seed,
        )

    def _key_frames(self, boxes: BoxIndex) -> tuple[list[tuple[int, int]], list[Boxes]]:
        """``(samples, boxes)``: ``(video, second)`` of each key second with boxes whose
        second is a multiple of ``second_stride``, videos in frame-list order, seconds in
        increasing order, and the boxes of each; boxes of videos missing from the frame
        lists are unused."""
        samples: list[tuple[int, int]] = []
        sample_boxes: list[Boxes] = []
        for video, name in enumerate(self.video_names):
            for second, second_boxes in sorted(boxes.get(name, {}).items()):
                if second_boxes and second % self.second_stride == 0:
                    samples.append((video, second))
                    sample_boxes.append(second_boxes)
        return samples, sample_boxes

    def __len__(self) -> int:
        """Key frames with at least one box."""
        return len(self.samples)

    def frame_indices(self, index: int) -> list[int]:
        """Frame-list indices of sample ``index``'s clip (PySlowFast's ``get_sequence``).

        ``num_frames`` indices ``sampling_rate`` apart starting ``num_frames *
        sampling_rate // 2`` before the key frame ``(second - 900) * fps``, clamped to
        ``[0, frames - 1]`` of the video.
        """
        video, second = self.samples[index]
        num_frames, rate = self.sampling.num_frames, self.sampling.sampling_rate
        last = len(self.frame_paths[video]) - 1
        centre = (second - AVA_FIRST_SECOND) * self.fps
        start = centre - num_frames * rate // 2
        return [min(max(start + k * rate, 0), last) for k in range(num_frames)]

    def _spatial(
        self, clip: torch.Tensor, boxes: torch.Tensor, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale, crop and flip a (C, T, H, W) clip and its (K, 4) pixel boxes alike."""
        s = self.spatial
        if self.split == "train":
            low, high = s.jitter_scales
            size = int(torch.randint(low, high + 1, (), generator=generator))
        else:
            size = s.test_crop_size
        h, w = clip.shape[-2:]
        clip = T.short_side_scale(clip, size)
        new_h, new_w = clip.shape[-2:]
        # Each axis scales by its own ratio, which is what the interpolation did.
        boxes = boxes * boxes.new_tensor([new_w / w, new_h / h, new_w / w, new_h / h])
        if self.split != "test":
            crop = s.crop_size if self.split == "train" else s.test_crop_size
            if self.split == "train":
                # The draws of T.random_crop (y then x), with the offsets kept for the boxes.
                y = int(torch.randint(0, new_h - crop + 1, (), generator=generator))
                x = int(torch.randint(0, new_w - crop + 1, (), generator=generator))
            else:
                # T.center_crop's offsets (rounded up, as PySlowFast).
                y, x = math.ceil((new_h - crop) / 2), math.ceil((new_w - crop) / 2)
            clip = clip[..., y : y + crop, x : x + crop]
            boxes = boxes - boxes.new_tensor([x, y, x, y])
        height, width = clip.shape[-2:]
        if self.split == "train" and s.random_flip:
            if float(torch.rand((), generator=generator)) < 0.5:
                clip = T.horizontal_flip(clip)
                boxes = torch.stack(
                    [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1
                )
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        return clip, boxes

    def _load_frames(self, index: int) -> torch.Tensor:
        """uint8 (T, H, W, 3) frames of sample ``index``'s clip."""
        paths = self.frame_paths[self.samples[index][0]]
        return load_frames([paths[i] for i in self.frame_indices(index)])

    def _describe_failure(self, index: int, error: Exception) -> tuple[str, str]:
        video, second = self.samples[index]
        return error.filename, f"key frame {self.video_names[video]},{second}"

    def __getitem__(self, index: int) -> dict[str, Any]:
        index, generator = self._begin(index)
        index, frames = self._retries(
            self._load_frames, index, self._describe_failure, generator
        )
        video, second = self.samples[index]
        clip = T.to_float_clip(frames)
        entries = self.boxes[index]
        ori_boxes = torch.tensor([box for box, _ in entries], dtype=torch.float32)
        h, w = clip.shape[-2:]
        pixels = ori_boxes * ori_boxes.new_tensor([w, h, w, h])
        clip, boxes = self._spatial(clip, pixels, generator)
        labels = torch.zeros(len(entries), self.num_classes)
        for row, (_, actions) in enumerate(entries):
            labels[row, [a - 1 for a in actions]] = 1.0
        metadata = torch.tensor([[video, second]] * len(entries), dtype=torch.long)
        return {
            "inputs": self._inputs(clip),
            "boxes": boxes,
            "ori_boxes": ori_boxes,
            "labels": labels,
            "metadata": metadata,
            "index": index,
        }
