import numpy as np

from train.augment import augment_batch, random_affine_matrix


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
