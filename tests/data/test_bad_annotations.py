"""Bad annotation files and still images, through build_dataset(spec, split).

Each is named when the data set is built (labels outside ``[0, num_classes)`` in every
split, bytes that are not UTF-8: the file and line), or said once (rows listed twice:
kept as PySlowFast keeps them, refused with ``allow_duplicates=False``), or, for a still
image renamed ``.mp4``, skipped and counted like any broken video, as "not a video". The
valid neighbour of each case loads.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import av
import pytest
from PIL import Image

from mutualnet3d.data import (
    AnnotationWarning,
    AvaFiles,
    ClipSampling,
    DatasetSpec,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    VideoDecodeWarning,
    build_dataset,
)
from mutualnet3d.data.decoder import DecodeError, decode_clip
from tests.data.folders import write_ava, write_charades
from tests.data.test_decoder_files import frame_image, write_video

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
SPLITS = ("train", "val", "test")
CLIPS = dict(
    normalization=NORM,
    sampling=ClipSampling(4, 2),
    spatial=SpatialSampling((32, 40), 28, 32),
    views=TestViews(2, 1),
)


@contextmanager
def no_warning():
    """A context in which any AnnotationWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AnnotationWarning)
        yield


def kinetics(root: Path, rows: dict[str, str], num_classes=3, **kw) -> DatasetSpec:
    """``rows[split]`` written as ``root/{split}.csv`` (bytes or text); a spec for them."""
    for split, text in rows.items():
        path = root / f"{split}.csv"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return DatasetSpec(
        name="kinetics", root=str(root), path_prefix=str(root), num_classes=num_classes,
        **CLIPS, **kw,
    )  # fmt: skip


@pytest.fixture
def videos(tmp_path: Path) -> list[str]:
    """Three short mpeg4 videos in tmp_path (12, 16 and 20 frames)."""
    names = ["a.mp4", "b.mp4", "c.mp4"]
    for name, frames in zip(names, (12, 16, 20)):
        write_video(tmp_path / name, frames)
    return names


# --------------------------------------------------------------------------------------
# Labels outside [0, num_classes)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("split", SPLITS)
def test_kinetics_label_outside_the_classes_names_file_line_value(tmp_path, videos, split):
    good = "a.mp4 0\nb.mp4 2\nc.mp4 1\n"
    spec = kinetics(tmp_path, {s: good for s in SPLITS})
    (tmp_path / f"{split}.csv").write_text("a.mp4 0\n\nb.mp4 3\nc.mp4 1\n")
    csv = re.escape(str(tmp_path / f"{split}.csv"))
    with pytest.raises(ValueError, match=rf"^{csv}, line 3: label 3 outside \[0, 3\): .*3 classes"):
        build_dataset(spec, split)
    # The largest class, 2, loads; and so does 3 with one class more.
    (tmp_path / f"{split}.csv").write_text(good)
    assert build_dataset(spec, split).labels == [0, 2, 1]
    (tmp_path / f"{split}.csv").write_text("a.mp4 0\n\nb.mp4 3\nc.mp4 1\n")
    assert build_dataset(replace(spec, num_classes=4), split).labels == [0, 3, 1]


@pytest.mark.parametrize("split, csv", [("train", "train"), ("val", "val"), ("test", "val")])
def test_charades_label_outside_the_classes_names_file_line_value(tmp_path, split, csv):
    folder = write_charades(tmp_path)  # 5 classes; test reads val.csv, as PySlowFast
    spec = DatasetSpec(
        name="charades", root=str(tmp_path), path_prefix=str(folder.prefix), num_classes=5,
        **CLIPS,
    )  # fmt: skip
    path = tmp_path / f"{csv}.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace(lines[4].split()[-1], '"2,5"')  # one label of two
    path.write_text("".join(lines))
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(path))}, line 5: label 5 outside \[0, 5\) in '\"2,5\"'"
    ):
        build_dataset(spec, split)
    lines[4] = lines[4].replace('"2,5"', '"2,4"')  # the largest class loads
    path.write_text("".join(lines))
    assert build_dataset(spec, split).num_classes == 5


def test_ava_action_outside_the_classes_names_file_and_line(tmp_path):
    folder = write_ava(tmp_path)  # label map ids 1, 2, 4: 4 classes
    files = AvaFiles(
        str(folder.frame_dir), str(tmp_path), str(tmp_path), train_lists=["val.csv"],
        train_gt_box_lists=["gt.csv"], label_map_file="labels.pbtxt",
    )  # fmt: skip
    spec = DatasetSpec(
        name="ava", sampling=ClipSampling(4, 2), spatial=SpatialSampling((24, 32), 20, 24),
        normalization=NORM, ava=files, num_classes=4,
    )  # fmt: skip
    gt = Path(folder.gt)
    rows = gt.read_text().splitlines(keepends=True)
    gt.write_text("".join(rows[:2] + [rows[2].replace(",2,1\n", ",5,1\n")] + rows[3:]))
    with pytest.raises(ValueError, match=rf"^{re.escape(folder.gt)}, line 3: action id 5 outside"):
        build_dataset(spec, "train")
    gt.write_text("".join(rows))
    assert len(build_dataset(spec, "train")) > 0


def test_imagenet_with_more_class_folders_than_classes_is_refused(imagenet_dir):
    spec = DatasetSpec(name="imagenet", root=str(imagenet_dir), normalization=NORM, num_classes=1)
    folder = re.escape(str(imagenet_dir / "val"))
    with pytest.raises(ValueError, match=rf"^{folder}: 2 class folders, .* outside \[0, 1\)"):
        build_dataset(spec, "val")
    assert build_dataset(replace(spec, num_classes=2), "val").num_classes == 2


# --------------------------------------------------------------------------------------
# Rows listed twice
# --------------------------------------------------------------------------------------
def test_kinetics_duplicate_rows_warn_once_with_the_count_and_are_kept(tmp_path, videos):
    rows = "a.mp4 0\nb.mp4 1\na.mp4 0\nc.mp4 2\nb.mp4 1\na.mp4 0\n"
    spec = kinetics(tmp_path, {"train": rows})
    csv = tmp_path / "train.csv"
    with pytest.warns(AnnotationWarning) as record:
        dataset = build_dataset(spec, "train")
    messages = [str(w.message) for w in record if w.category is AnnotationWarning]
    assert messages == [
        f"{csv}: 3 duplicate row(s) (the same path and label as an earlier line; first at "
        "line 3), kept as PySlowFast keeps them: they count twice"
    ]
    assert len(dataset) == 6 and dataset.labels == [0, 1, 0, 2, 1, 0]  # kept, as PySlowFast
    # Refused: the first duplicate line is named.
    with pytest.raises(ValueError, match=rf"^{re.escape(str(csv))}, line 3: duplicate row .*3 in"):
        build_dataset(replace(spec, allow_duplicates=False), "train")
    # The same video with another label is no duplicate row; nor are distinct rows.
    csv.write_text("a.mp4 0\nb.mp4 1\na.mp4 1\n")
    with no_warning():
        assert len(build_dataset(replace(spec, allow_duplicates=False), "train")) == 3


def test_charades_frames_listed_twice_warn_once_or_are_refused(tmp_path):
    folder = write_charades(tmp_path)
    spec = DatasetSpec(
        name="charades", root=str(tmp_path), path_prefix=str(folder.prefix), num_classes=5,
        **CLIPS,
    )  # fmt: skip
    path = tmp_path / "train.csv"
    lines = path.read_text().splitlines(keepends=True)
    frames = len(lines) - 1
    with no_warning():
        assert build_dataset(spec, "train").offsets[-1] == frames
    path.write_text("".join(lines + lines[3:5]))  # two frames of vidA again, at the end
    with pytest.warns(AnnotationWarning, match=rf"^{re.escape(str(path))}: 2 duplicate row\(s\) "
                      r"\(the same video and frame path .*first at line \d+\)"):  # fmt: skip
        dataset = build_dataset(spec, "train")
    assert dataset.offsets[-1] == frames + 2  # kept, as PySlowFast
    first = len(lines) + 1
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}, line {first}: duplicate"):
        build_dataset(replace(spec, allow_duplicates=False), "train")


def test_ava_frame_list_duplicates_warn(tmp_path):
    folder = write_ava(tmp_path)
    files = AvaFiles(
        str(folder.frame_dir), str(tmp_path), str(tmp_path), test_lists=["val.csv"],
        test_predict_box_lists=["predicted.csv"], label_map_file="labels.pbtxt",
        groundtruth_file="gt.csv",
    )  # fmt: skip
    spec = DatasetSpec(
        name="ava", sampling=ClipSampling(4, 2), spatial=SpatialSampling((24, 32), 20, 24),
        normalization=NORM, ava=files,
    )  # fmt: skip
    with no_warning():
        build_dataset(spec, "test")
    frame_list = Path(folder.frame_list)
    lines = frame_list.read_text().splitlines(keepends=True)
    frame_list.write_text("".join(lines[:3] + lines[2:]))
    with pytest.warns(AnnotationWarning, match=rf"{re.escape(folder.frame_list)}: 1 duplicate"):
        build_dataset(spec, "test")
    with pytest.raises(ValueError, match=rf"{re.escape(folder.frame_list)}, line 4: duplicate"):
        build_dataset(replace(spec, allow_duplicates=False), "test")


# --------------------------------------------------------------------------------------
# Bytes that are not UTF-8
# --------------------------------------------------------------------------------------
def test_kinetics_csv_not_utf8_names_file_line_and_offset(tmp_path, videos):
    text = "a.mp4 0\nb.mp4 1\n".encode() + "caf\u00e9.mp4 2\n".encode("latin-1")
    spec = kinetics(tmp_path, {"val": text})
    csv = tmp_path / "val.csv"
    with pytest.raises(ValueError) as info:
        build_dataset(spec, "val")
    offset = text.index(b"\xe9")
    assert str(info.value) == (
        f"{csv}, line 3: not UTF-8 (byte 0xe9 at offset {offset}); save the file as UTF-8"
    )
    # The same name in UTF-8 is read (the file is then missing: skipped when loaded).
    csv.write_text("a.mp4 0\nb.mp4 1\ncaf\u00e9.mp4 2\n", encoding="utf-8")
    assert build_dataset(spec, "val").videos[2] == str(tmp_path / "caf\u00e9.mp4")


def test_frame_list_and_box_csv_not_utf8_are_named(tmp_path):
    folder = write_charades(tmp_path / "charades")
    spec = DatasetSpec(
        name="charades", root=str(folder.root), path_prefix=str(folder.prefix), num_classes=5,
        **CLIPS,
    )  # fmt: skip
    path = Path(folder.csv("train"))
    raw = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(raw[:2] + [raw[2].replace(b"vidA", b"vid\xff")] + raw[3:]))
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(path))}, line 3: not UTF-8 \(byte 0xff"
    ):
        build_dataset(spec, "train")
    ava = write_ava(tmp_path / "ava")
    files = AvaFiles(
        str(ava.frame_dir), str(ava.root), str(ava.root), train_lists=["val.csv"],
        train_gt_box_lists=["gt.csv"], label_map_file="labels.pbtxt",
    )  # fmt: skip
    ava_spec = DatasetSpec(
        name="ava", sampling=ClipSampling(4, 2), spatial=SpatialSampling((24, 32), 20, 24),
        normalization=NORM, ava=files,
    )  # fmt: skip
    with open(ava.gt, "ab") as f:
        f.write(b"vidA,0902,0.1,0.1,0.5,0.5,1,0 # \xe9\n")
    line = len(Path(ava.gt).read_bytes().splitlines())
    with pytest.raises(ValueError, match=rf"^{re.escape(ava.gt)}, line {line}: not UTF-8"):
        build_dataset(ava_spec, "train")
    Path(ava.label_map).write_bytes(b'item {\n  name: "caf\xe9"\n  id: 1\n}\n')
    with pytest.raises(ValueError, match=rf"^{re.escape(ava.label_map)}, line 2: not UTF-8"):
        build_dataset(ava_spec, "train")


# --------------------------------------------------------------------------------------
# Still images renamed .mp4
# --------------------------------------------------------------------------------------
STILLS = [("PNG", "png"), ("JPEG", "jpeg"), ("BMP", "bmp")]


def write_still(path: Path, fmt: str) -> Path:
    Image.fromarray(frame_image(5, 48, 64)).save(path, format=fmt)
    return path


@pytest.mark.parametrize("fmt, codec", STILLS)
def test_a_still_image_renamed_mp4_is_not_a_video(tmp_path, fmt, codec):
    path = write_still(tmp_path / "photo.mp4", fmt)
    with pytest.raises(DecodeError, match=rf"^cannot decode {re.escape(str(path))}: not a video "
                       rf"\(a still {codec} image\)$"):  # fmt: skip
        decode_clip(str(path), 4, 2, 30)


@pytest.mark.parametrize("fmt, codec", STILLS)
def test_a_still_image_in_a_csv_is_skipped_named_and_counted(tmp_path, videos, fmt, codec):
    write_still(tmp_path / "photo.mp4", fmt)
    rows = "photo.mp4 0\na.mp4 1\n"
    spec = kinetics(tmp_path, {s: rows for s in SPLITS}, retry=RetryPolicy(max_retries=30))
    train = build_dataset(spec, "train")
    photo = str(tmp_path / "photo.mp4")
    with pytest.warns(VideoDecodeWarning, match=rf"not a video \(a still {codec} image\)"):
        samples = [train[0] for _ in range(4)]  # another video is read in its place
    assert all(sample["video_index"] == 1 for sample in samples)
    # Counted as a failure like any broken file (at least once per call, as drawn).
    assert set(train.failures) == {photo} and train.num_failures == train.failures[photo] >= 4
    test = build_dataset(replace(spec, retry=RetryPolicy(max_retries=1)), "test")
    with pytest.warns(VideoDecodeWarning, match=re.escape(photo)):
        with pytest.raises(RuntimeError, match=re.escape(photo)):
            test[0]  # a test view retries its own video
    assert test[2]["video_index"] == 1


def _mjpeg_avi(path: Path, frames: int) -> Path:
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(k, 48, 64), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_videos_of_image_codecs_and_short_videos_still_load(tmp_path):
    # MJPEG videos (many frames, or one, in a video container), concatenated JPEGs (a raw
    # MJPEG stream) renamed .mp4, and a 1-frame mpeg4 video are videos.
    names = ["mjpeg.mp4", "one_frame.avi", "raw_mjpeg.mp4", "one_frame.mp4"]
    _mjpeg_avi(tmp_path / "mjpeg.avi", 24).rename(tmp_path / names[0])
    _mjpeg_avi(tmp_path / names[1], 1)
    with open(tmp_path / names[2], "wb") as f:
        for k in range(6):
            Image.fromarray(frame_image(k, 48, 64)).save(f, format="JPEG", quality=95)
    write_video(tmp_path / names[3], 1, size=(48, 64))
    spec = kinetics(tmp_path, {"train": "".join(f"{n} 0\n" for n in names)})
    train = build_dataset(spec, "train")
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoDecodeWarning)
        for index in range(len(names)):
            assert train[index]["video_index"] == index
    assert train.num_failures == 0
    for name in names:
        assert decode_clip(str(tmp_path / name), 4, 2, 30).shape == (4, 48, 64, 3)
