import numpy as np
import pytest

from edge_runtime.identity.gallery import Gallery, GalleryError
from edge_runtime.identity.names import InvalidName


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
    with pytest.raises(GalleryError, match="'bob' is already enrolled; merging 'cy' into it needs --merge"):
        gallery.rename("cy", "bob")
    assert gallery.counts() == {"bob": 2, "cy": 1}
    gallery.rename("cy", "bob", merge=True)
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


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unknown", "reserved"),
        ("Unknown", "reserved"),
        ("", "not empty or only spaces"),
        ("   ", "not empty or only spaces"),
        (" ann", "starts or ends with a space"),
        ("ann ", "starts or ends with a space"),
        ("ann\tlee", "control character"),
        ("Jos\udce9", "not valid UTF-8"),  # how Python keeps the byte 0xE9 of a Latin-1 folder name
    ],
)
def test_names_that_would_mislead_are_refused(name, message):
    gallery = Gallery("m", 8)
    with pytest.raises(InvalidName, match=message):
        gallery.add(name, _unit(1))
    gallery.add("ann", _unit(1))
    with pytest.raises(InvalidName, match=message):
        gallery.rename("ann", name)
    assert gallery.names == ["ann"]


def test_names_are_kept_as_given_in_one_unicode_form(tmp_path):
    gallery = Gallery("m", 8)
    gallery.add("Jose\u0301", _unit(1))  # José as a macOS folder name spells it (e + combining accent)
    gallery.add("Jos\u00e9", _unit(1, seed=1))  # José typed on Linux
    gallery.add("Дмитрий", _unit(1, seed=2))
    gallery.save(tmp_path / "g.npz")
    assert Gallery.load(tmp_path / "g.npz").counts() == {"Jos\u00e9": 2, "Дмитрий": 1}


def test_digests_survive_a_round_trip_and_old_galleries_still_load(tmp_path):
    gallery = Gallery("m", 8)
    gallery.add("ann", _unit(2), ["a.png", "b.png"], ["d1", "d2"])
    gallery.add("bob", _unit(1, seed=3), ["c.png"], ["d3"])
    gallery.remove("ann")
    gallery.save(tmp_path / "g.npz")
    loaded = Gallery.load(tmp_path / "g.npz")
    assert loaded.digests == ["d3"] and loaded.owner_of_digest("d3") == "bob" and loaded.owner_of_digest("d1") is None
    with np.load(tmp_path / "g.npz", allow_pickle=False) as data:  # a gallery saved before digests existed
        np.savez(tmp_path / "old.npz", **{k: data[k] for k in data.files if k != "digests"})
    assert Gallery.load(tmp_path / "old.npz").digests == [""]


def _crafted(path, names):
    """A gallery file written by hand, one embedding per name, as a tool other than enrollment could."""
    np.savez(
        path,
        format_version=np.array(1),
        model_hash=np.array("m"),
        embeddings=_unit(len(names)),
        owners=np.arange(len(names)),
        names=np.array(names, dtype=str),
        sources=np.array([""] * len(names), dtype=str),
    )
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ann\n\x1b[2Jbob", r"\(entry 1\): name 'ann\\n\\x1b\[2Jbob' holds a control character"),
        ("Unknown", r"\(entry 1\): 'Unknown' is reserved"),
        ("\ud800", r"\(entry 1\): name '\\ud800' is not valid UTF-8"),
        (" ann", r"\(entry 1\): name ' ann' starts or ends with a space"),
    ],
)
def test_a_gallery_file_with_a_name_enrollment_refuses_is_refused_when_loaded(tmp_path, name, message):
    path = _crafted(tmp_path / "g.npz", ["cy", name])
    with pytest.raises(GalleryError, match=rf"^gallery {tmp_path}/g.npz holds a name enrollment refuses {message}"):
        Gallery.load(path)


def test_a_gallery_file_naming_one_identity_twice_is_refused(tmp_path):
    with pytest.raises(GalleryError, match="names one identity twice"):
        Gallery.load(_crafted(tmp_path / "g.npz", ["Jos\u00e9", "Jose\u0301"]))


@pytest.mark.parametrize("name", ["ann\n\x1b[31mbob\r", "unknown"])
def test_edge_gallery_list_refuses_a_crafted_name_in_one_line(tmp_path, name):
    from click.testing import CliRunner

    from edge_runtime.apps.cli import gallery_command

    path = _crafted(tmp_path / "g.npz", ["cy", name])
    result = CliRunner().invoke(gallery_command, ["list", "-g", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "\x1b" not in result.output and "\r" not in result.output
    assert result.output.startswith(f"gallery list: error: gallery {path} holds a name enrollment refuses (entry 1)")
    assert repr(name) in result.output


def test_a_gallery_of_another_embedding_width_is_refused_for_this_model_in_one_line(tmp_path, faces_root):
    """A gallery made (or edited) elsewhere with the model's hash but embeddings of another width
    used to load, then fail mid-run in a matmul traceback."""
    from click.testing import CliRunner

    from edge_runtime.apps.cli import recognize
    from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
    from edge_runtime.inference.embedder import read_model_info

    model = packaged_model(ATT_FACES_MODEL)
    info = read_model_info(model)
    wrong = Gallery(info.family, info.embedding_size + 3)
    wrong.add("ann", _unit(1, info.embedding_size + 3))
    wrong.save(tmp_path / "g.npz")
    arguments = ["-m", model, "-g", tmp_path / "g.npz", "--headless", "--json", "-i", faces_root / "s1" / "1.png"]
    result = CliRunner().invoke(recognize, [str(a) for a in arguments])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"recognize: error: gallery {tmp_path / 'g.npz'} holds embeddings of size {info.embedding_size + 3}, "
        f"and this model makes embeddings of size {info.embedding_size}; re-enroll the identities with this model"
    )


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_gallery_holding_an_embedding_that_is_not_a_number_is_refused_naming_the_identity(tmp_path, value):
    """A NaN or infinite embedding row was accepted silently (and matched nothing, or everything)."""
    from click.testing import CliRunner

    from edge_runtime.apps.cli import gallery_command

    path = _crafted(tmp_path / "g.npz", ["cy", "dee"])
    with np.load(path, allow_pickle=False) as data:
        fields = {k: data[k] for k in data.files}
    fields["embeddings"][1, 3] = value
    np.savez(path, **fields)
    with pytest.raises(GalleryError, match="holds an embedding of 'dee' that is not a number"):
        Gallery.load(path)
    result = CliRunner().invoke(gallery_command, ["list", "-g", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output == (
        f"gallery list: error: gallery {path} holds an embedding of 'dee' that is not a number (NaN or infinite); "
        "re-enroll, or remove that identity\n"
    )
