import numpy as np
import pytest

from edge_runtime.gallery import Gallery, GalleryError


def _unit(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_enroll_match_and_round_trip(tmp_path):
    gallery = Gallery("abc", 8)
    vectors = _unit(3)
    for name, vector in zip(["ann", "bob", "cy"], vectors, strict=True):
        gallery.add(name, vector, sources=[f"{name}.png"])
    best = gallery.match(vectors, k=2)
    assert [m[0].name for m in best] == ["ann", "bob", "cy"]
    assert best[0][0].score == pytest.approx(1.0) and best[0][1].score < 1.0
    gallery.save(tmp_path / "g.npz")
    loaded = Gallery.load(tmp_path / "g.npz", model_hash="abc")
    assert loaded.names == gallery.names and loaded.sources == ["ann.png", "bob.png", "cy.png"]
    assert np.array_equal(loaded.embeddings, gallery.embeddings)


def test_remove_and_rename_keep_the_rest_intact():
    gallery = Gallery("h", 8)
    vectors = _unit(4)
    gallery.add("ann", vectors[0])
    gallery.add("bob", vectors[1:3])
    gallery.add("cy", vectors[3])
    gallery.remove("ann")
    assert gallery.counts() == {"bob": 2, "cy": 1}
    assert gallery.match(vectors[3])[0][0].name == "cy"
    gallery.rename("cy", "bob")
    assert gallery.counts() == {"bob": 3}
    with pytest.raises(GalleryError, match="no identity called 'zed'"):
        gallery.remove("zed")


def test_another_model_and_corrupt_files_are_clear_errors(tmp_path):
    gallery = Gallery("model-a", 8)
    gallery.add("ann", _unit(1))
    gallery.save(tmp_path / "g.npz")
    with pytest.raises(GalleryError, match="re-enroll"):
        Gallery.load(tmp_path / "g.npz", model_hash="model-b")
    data = (tmp_path / "g.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(GalleryError, match="corrupt"):
        Gallery.load(tmp_path / "cut.npz")
    with pytest.raises(GalleryError, match="does not exist"):
        Gallery.load(tmp_path / "none.npz")
    with pytest.raises(GalleryError, match="empty"):
        Gallery("m", 8).match(_unit(1))


def test_a_failed_save_keeps_the_previous_gallery(tmp_path, monkeypatch):
    gallery = Gallery("m", 8)
    gallery.add("ann", _unit(1))
    gallery.save(tmp_path / "g.npz")
    gallery.add("bob", _unit(1, seed=1))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        gallery.save(tmp_path / "g.npz")
    assert Gallery.load(tmp_path / "g.npz").names == ["ann"]
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]


def test_faiss_index_finds_the_same_identities_as_numpy():
    pytest.importorskip("faiss", reason="the faiss extra is not installed")
    vectors = _unit(2000, dim=32, seed=4)
    exact, approximate = Gallery("m", 32), Gallery("m", 32, index="faiss")
    for i, vector in enumerate(vectors):
        exact.add(f"id{i}", vector)
        approximate.add(f"id{i}", vector)
    queries = vectors[:50] + 0.05 * _unit(50, dim=32, seed=5)
    a = [m[0].name for m in exact.match(queries, k=3)]
    b = [m[0].name for m in approximate.match(queries, k=3)]
    assert np.mean([x == y for x, y in zip(a, b, strict=True)]) >= 0.95
    assert a == [f"id{i}" for i in range(50)]
