import shutil

import cv2
import numpy as np
import pytest

from edge_runtime.core.errors import ImageReadError
from edge_runtime.imaging.image_folders import scan_dataset
from edge_runtime.imaging.preprocessing import InputSpec, fit_image, image_files, read_image, to_input_tensor


def test_read_image_decodes_pgm_and_png_alike(tmp_path, faces_root):
    png = read_image(faces_root / "s1" / "1.png")
    cv2.imwrite(str(tmp_path / "1.pgm"), png)
    assert np.array_equal(read_image(tmp_path / "1.pgm"), png)
    assert png.shape == (112, 92) and png.dtype == np.uint8


def test_unreadable_images_raise_a_clear_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty, truncated or not an image"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="cannot read"):
        read_image(tmp_path / "missing.png")


def test_fit_image_converts_size_and_channels():
    bgr = np.zeros((50, 40, 3), np.uint8)
    bgr[..., 2] = 255  # red in BGR
    rgb = fit_image(bgr, InputSpec(20, 16, 3, mean=(0.5,) * 3, std=(0.5,) * 3))
    assert rgb.shape == (20, 16, 3) and rgb[0, 0].tolist() == [255, 0, 0]
    gray = fit_image(bgr, InputSpec(20, 16, 1))
    assert gray.shape == (20, 16, 1)


def test_input_tensor_is_normalised_nchw():
    spec = InputSpec(8, 8, 1, mean=(0.5,), std=(0.25,))
    images = np.full((3, 8, 8, 1), 255, np.uint8)
    tensor = to_input_tensor(images, spec)
    assert tensor.shape == (3, 1, 8, 8) and tensor.dtype == np.float32
    assert np.allclose(tensor, 2.0)


def test_spec_round_trips_through_a_dictionary():
    spec = InputSpec(64, 48, 3, mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))
    assert InputSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="mean needs 3 values"):
        InputSpec(64, 64, 3)


def test_ink_mode_crops_to_the_strokes_keeps_the_aspect_and_pads_with_paper():
    page = np.full((200, 400), 240, np.uint8)
    cv2.line(page, (100, 80), (300, 120), 20, 5)  # a 200×40 px stroke far from the centre
    spec = InputSpec(32, 64, 1, resize="ink")
    fitted = fit_image(page, spec)[:, :, 0]
    ink_rows, ink_cols = np.nonzero(fitted < 128)
    assert ink_cols.min() <= 2 and ink_cols.max() >= 61  # the stroke now spans the width
    assert ink_rows.min() >= 8 and ink_rows.max() <= 24  # aspect kept: about 13 rows, centred
    assert fitted[0, 0] == 240 and fitted[-1, -1] == 240  # padding is the paper's colour
    assert InputSpec.from_dict(spec.to_dict()).resize == "ink"


def test_an_image_is_known_by_its_suffix_or_its_first_bytes_in_every_stage(tmp_path, faces_root):
    """.jfif, .jpe and photos without a suffix are images for enrolment, photo inputs, training and
    calibration alike (one is_image_file); text, video and other files are not, whatever they begin with."""
    photo = cv2.imread(str(faces_root / "s1" / "1.png"))
    for name, suffix in (("a.jfif", ".jpg"), ("b.jpe", ".jpg"), ("c", ".jpg"), ("d", ".png"), ("e", ".bmp"),
                         ("f.jpg_large", ".webp")):  # fmt: skip
        (tmp_path / "s1").mkdir(exist_ok=True)
        (tmp_path / "s1" / name).write_bytes(cv2.imencode(suffix, photo)[1].tobytes())
    (tmp_path / "s1" / "notes").write_text("BMW of s1\n")  # BMP files begin with "BM"
    (tmp_path / "s1" / "clip.avi").write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(64))  # RIFF, not WebP
    (tmp_path / "s1" / "empty").write_bytes(b"")
    (tmp_path / "s2").mkdir()
    shutil.copy(faces_root / "s2" / "1.png", tmp_path / "s2" / "1.png")
    images = image_files(tmp_path / "s1")
    assert [p.name for p in images] == ["a.jfif", "b.jpe", "c", "d", "e", "f.jpg_large"]
    assert all(read_image(p).shape == (112, 92, 3) for p in images)
    assert [r.path for r in scan_dataset(tmp_path) if r.label == "s1"] == images  # training, --val, calibration
