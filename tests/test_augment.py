import numpy as np

from train.augment import augment_batch, photometric_jitter, random_affine_matrix


def test_affine_ranges_are_koch_et_al():
    rng = np.random.default_rng(0)
    for _ in range(200):
        matrix = random_affine_matrix(rng, 105, 105)
        assert abs(np.linalg.det(matrix[:, :2])) > 0.4
        assert np.all(np.abs(matrix[:, :2]) < 1.8)


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
