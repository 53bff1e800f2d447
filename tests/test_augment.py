import numpy as np

from train.augment import AffineParameters, affine_matrix, augment_batch, draw_affine, photometric_jitter


def test_affine_ranges_are_koch_et_al_each_half_the_time():
    rng = np.random.default_rng(0)
    draws = [draw_affine(rng, 105, 105) for _ in range(4000)]
    ranges = {"angle": 10.0, "shear_x": 0.3, "shear_y": 0.3, "shift_x": 2.0, "shift_y": 2.0}
    for name, bound in ranges.items():
        values = np.array([getattr(d, name) for d in draws])
        used = values[values != 0.0]
        assert 0.45 < len(used) / len(values) < 0.55, name
        assert -bound <= used.min() < -0.98 * bound and 0.98 * bound < used.max() <= bound, name
    for name in ("scale_x", "scale_y"):
        used = np.array([getattr(d, name) for d in draws if getattr(d, name) != 1.0])
        assert 0.8 <= used.min() < 0.81 and 1.19 < used.max() <= 1.2, name
    small = draw_affine(np.random.default_rng(1), 52, 80)
    assert all(abs(d) <= 2.0 * 52 / 105 for d in (small.shift_x, small.shift_y))


def test_the_matrix_rotates_shears_scales_about_the_centre_then_shifts():
    turn = AffineParameters(angle=90.0, shear_x=0.0, shear_y=0.0, scale_x=1.0, scale_y=1.0, shift_x=0.0, shift_y=0.0)
    matrix = affine_matrix(turn, 11, 11)
    assert np.allclose(matrix @ [5.0, 5.0, 1.0], [5.0, 5.0])  # the centre stays
    assert np.allclose(matrix @ [10.0, 5.0, 1.0], [5.0, 10.0])
    moved = affine_matrix(AffineParameters(0.0, 0.3, 0.0, 1.2, 0.8, 1.5, -2.0), 11, 11)
    assert np.allclose(moved[:, :2], [[1.2, 0.24], [0.0, 0.8]]) and np.allclose(moved @ [5, 5, 1], [6.5, 3.0])


def test_augmentation_is_deterministic_per_generator_and_keeps_shape(faces_root):
    images = np.random.default_rng(1).integers(0, 255, size=(4, 32, 24, 1), dtype=np.uint8)
    a = augment_batch(images, np.random.default_rng(5))
    b = augment_batch(images, np.random.default_rng(5))
    assert a.shape == images.shape and np.array_equal(a, b)
    assert not np.array_equal(a, images)


def test_flip_mirrors_about_half_the_images():
    image = np.zeros((1, 16, 16, 1), np.uint8)
    image[0, :, :3] = 255
    rng = np.random.default_rng(0)
    mirrored = [augment_batch(image, rng, flip=True)[0, :, -2:].mean() > 100 for _ in range(200)]
    assert 0.35 < np.mean(mirrored) < 0.65
    assert not any(augment_batch(image, rng)[0, :, -2:].mean() > 100 for _ in range(50))


def test_photometric_jitter_varies_brightness_and_contrast_and_sometimes_drops_colour():
    rng = np.random.default_rng(0)
    image = np.random.default_rng(2).integers(40, 200, size=(16, 16, 3), dtype=np.uint8)
    image[..., 0] //= 2  # a colour cast, so that grey copies stand out
    out = [photometric_jitter(image, rng) for _ in range(300)]
    means = [o.mean() for o in out]
    assert min(means) < 0.8 * image.mean() < 1.25 * image.mean() < max(means)
    grey = np.mean([np.array_equal(o[..., 0], o[..., 1]) and np.array_equal(o[..., 1], o[..., 2]) for o in out])
    assert 0.1 < grey < 0.3
    assert all(o.dtype == np.uint8 and o.shape == image.shape for o in out)
