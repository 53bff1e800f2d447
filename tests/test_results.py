"""Result files and README's tables rendered from them: every figure from the file its benchmark wrote."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks import results
from benchmarks.result_tables import TABLES
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model

REPO = results.REPO
LFW_VIEW2 = {
    "model": "m.onnx", "test folds": 2, "turn": 0.0, "landmarks": "dlib", "held-out folds": 2, "pairs": 1200,
    "accuracy (mean over folds)": 0.9375, "accuracy std": 0.0075, "tar_at_far_1e-3": 0.6317, "tar_at_far_1e-2": 0.83,
    "accuracy at the model's threshold": 0.7992, "images without a detected face (central crop used)": 0,
    "images": 1583,
}  # fmt: skip


def readme_with(block_names: str, body: str = "stale\n") -> str:
    """A README holding prose around one results block."""
    return f"# Title\n\nSome prose, 12% typed.\n\n<!-- results: {block_names} -->\n{body}<!-- /results -->\n\nEnd.\n"


def test_write_result_records_figures_and_how_they_were_measured(tmp_path):
    argv = [str(REPO / "benchmarks" / "faces" / "lfw_view2.py"), str(REPO / "edge_runtime" / "models" / "x.onnx")]
    path = results.write_result("view2", LFW_VIEW2, benchmark="lfw_view2", root=tmp_path, argv=argv)
    document = json.loads(path.read_text())
    assert path == tmp_path / "view2.json"
    assert document["benchmark"] == "lfw_view2" and document["figures"] == LFW_VIEW2
    p = document["provenance"]
    assert p["command"] == "python -m benchmarks.faces.lfw_view2 edge_runtime/models/x.onnx"
    assert len(p["commit"]) == 40 and isinstance(p["dirty"], bool)
    assert p["date"].endswith("Z") and p["cpu"] and isinstance(p["cpu_flags"], list)
    assert {"onnxruntime", "numpy", "python", "cores"} <= set(p)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and " avx2" in cpuinfo.read_text():
        assert "avx2" in p["cpu_flags"]
    assert [f.name for f in tmp_path.iterdir()] == ["view2.json"]  # no temporary left beside it


def test_write_result_is_atomic_an_error_keeps_the_old_file(tmp_path, monkeypatch):
    results.write_result("r", LFW_VIEW2, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    before = (tmp_path / "r.json").read_text()
    with pytest.raises(TypeError):
        results.write_result("r", {"not json": object()}, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    write_bytes = Path.write_bytes

    def half_then_disk_full(self, data):
        write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_disk_full)
    with pytest.raises(OSError):
        results.write_result("r", {**LFW_VIEW2, "pairs": 1}, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    monkeypatch.undo()
    assert (tmp_path / "r.json").read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]
    with pytest.raises(results.ResultError):
        results.write_result("../escape", LFW_VIEW2, benchmark="lfw_view2", root=tmp_path, argv=["x"])


def test_the_command_line_keeps_no_secret_and_no_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secretvalue")
    argv = ["/usr/bin/edge-bench", "m.onnx", "--token", "abc123", "--api-key=xyz789", "--runs", "5"]
    results.write_result("r", {}, benchmark="edge-bench", root=tmp_path, argv=argv)
    text = (tmp_path / "r.json").read_text()
    assert json.loads(text)["provenance"]["command"] == "edge-bench m.onnx --token *** --api-key=*** --runs 5"
    assert "abc123" not in text and "xyz789" not in text and "hf_secretvalue" not in text


def _check_fails_in_one_line(readme, root, capsys, argv: list[str] | None = None) -> str:
    """`check`'s one-line message, once it has failed (on `readme` and `root`, or on `argv`'s paths)."""
    assert results.main(["check", *(argv if argv is not None else [str(readme), str(root)])]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    return message


def test_a_stale_block_fails_check_in_one_line_and_render_fixes_it(tmp_path, capsys):
    results.write_result("view2", LFW_VIEW2, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    readme = tmp_path / "README.md"
    readme.write_text(readme_with("view2"))
    message = _check_fails_in_one_line(readme, tmp_path, capsys)
    assert "results: view2" in message and "line 5" in message
    assert results.main(["render", str(readme), str(tmp_path)]) == 0
    text = readme.read_text()
    assert "| `m.onnx` | 1–2 (1,200 pairs) | dlib | 0° | 93.75% ± 0.75 | 79.92% | 63.2% | 83.0% | 0 |" in text
    assert "`results/view2.json`: " in text and "Some prose, 12% typed." in text and text.endswith("End.\n")
    assert results.main(["check", str(readme), str(tmp_path)]) == 0
    assert results.main(["render", str(readme), str(tmp_path)]) == 0 and readme.read_text() == text  # idempotent
    figures = {**LFW_VIEW2, "accuracy std": 0.008}
    results.write_result("view2", figures, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    assert results.main(["check", str(readme), str(tmp_path)]) == 1  # the file changed: README is stale


def test_a_block_naming_a_missing_file_fails_check_and_render(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(readme_with("nowhere"))
    message = _check_fails_in_one_line(readme, tmp_path, capsys)
    assert "results: nowhere" in message and "nowhere.json" in message
    assert results.main(["render", str(readme), str(tmp_path)]) == 1
    assert readme.read_text() == readme_with("nowhere")


def test_an_unclosed_block_a_file_lacking_a_figure_and_a_missing_document_are_one_line(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results: view2 -->\n| a table typed by hand | 99% |\n")  # no closing marker
    assert "marker(s) without '<!-- /results -->'" in _check_fails_in_one_line(readme, tmp_path, capsys)
    assert results.main(["render", str(readme), str(tmp_path)]) == 1 and "without" in capsys.readouterr().err
    results.write_result("view2", {"model": "m.onnx"}, benchmark="lfw_view2", root=tmp_path, argv=["x"])
    readme.write_text(readme_with("view2"))
    assert "a file lacks a figure or its provenance" in _check_fails_in_one_line(readme, tmp_path, capsys)
    assert results.main(["check", str(tmp_path / "missing.md"), str(tmp_path)]) == 2
    assert results.main(["check", str(tmp_path), str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("cannot read") == 2


def test_check_and_render_without_a_path_cover_the_readme_and_every_docs_page(tmp_path, monkeypatch, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "docs").mkdir()
    results.write_result("view2", LFW_VIEW2, benchmark="lfw_view2", root=tmp_path / "results", argv=["x"])
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "README", tmp_path / "README.md")
    monkeypatch.setattr(results, "DOCS", tmp_path / "docs")
    readme, page = tmp_path / "README.md", tmp_path / "docs" / "results.md"
    readme.write_text(readme_with("view2"))
    page.write_text(readme_with("view2"))
    (tmp_path / "docs" / "index.md").write_text("# No blocks here\n")
    assert results.documents() == [readme, tmp_path / "docs" / "index.md", page]
    assert "README.md block 'results: view2' (line 5)" in _check_fails_in_one_line(None, None, capsys, [])
    assert results.main(["render"]) == 0
    assert readme.read_text() == page.read_text() != readme_with("view2")
    assert results.main(["check"]) == 0
    page.write_text(readme_with("view2"))  # a docs page gone stale fails the check, and names the page
    assert "results.md block 'results: view2' (line 5)" in _check_fails_in_one_line(None, None, capsys, [])
    assert results.main(["check", str(readme)]) == 0  # one file given: that file alone


def test_every_block_of_the_repository_readme_and_docs_agrees_with_its_result_files():
    """CI fails here when someone types a figure into a rendered table or re-measures without rendering."""
    blocks = {}
    for path in results.documents():
        text = path.read_text()
        blocks[path.name] = [m.group(2) for m in results.BLOCK.finditer(text)]
        assert results.first_difference(text, document=path.name) is None
        for names in blocks[path.name]:
            for name in names.split():
                document = results.load_result(name)
                assert document["benchmark"] in TABLES and document["provenance"]["command"]
    assert blocks["README.md"], "README has no results blocks"
    assert blocks["results.md"], "docs/results.md has no results blocks"


def test_lfw_view2_writes_its_result_file(tmp_path, monkeypatch):
    from benchmarks.faces import lfw_view2

    lfw = REPO / "edge_runtime" / "demo_data" / "lfw" / "enrolled"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "2\t1\nAngela_Bassett\t1\t2\nAngela_Bassett\t1\tAnn_Veneman\t1\n"
        "Ann_Veneman\t1\t2\nBob_Graham\t1\tBoris_Becker\t1\n"
    )
    model = packaged_model("face_student.int8.onnx")
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    argv = [lfw_view2.__file__, str(model), str(lfw), str(pairs), "--test-folds", "2", "--result", "tiny"]
    monkeypatch.setattr(sys, "argv", argv)
    lfw_view2.main()
    document = results.load_result("tiny")
    assert document["benchmark"] == "lfw_view2" and document["figures"]["pairs"] == 4
    assert document["provenance"]["command"].startswith("python -m benchmarks.faces.lfw_view2 ")
    assert "face_student.int8.onnx" in TABLES["lfw_view2"]([document["figures"]])


def test_edge_bench_result_option_writes_a_file_its_table_renders(tmp_path, monkeypatch):
    from bench.cli import main

    monkeypatch.setattr(results, "RESULTS", tmp_path)
    model = str(packaged_model(ATT_FACES_MODEL))
    tensorrt = model.replace(".int8.onnx", ".int8.tensorrt.onnx")
    done = CliRunner().invoke(main, [model, tensorrt, "--batch", "1", "--runs", "3", "--warmup", "1", "--result", "b"])
    assert done.exit_code == 0, done.output
    document = results.load_result("b")
    assert document["benchmark"] == "edge-bench" and len(document["figures"]["results"]) == 2
    table = TABLES["edge-bench"]([document["figures"]])
    assert "| 1.00× |" in table and "(U8S8) ÷ `att_faces_demo.int8.tensorrt.onnx` (S8S8), batch 1" in table


def test_video_test_writes_its_result_file_and_a_change_of_person_in_place_is_no_wrong_name(tmp_path, monkeypatch):
    from benchmarks.faces import video_test
    from edge_runtime.io.photo_video import write_photo_video

    demo = REPO / "edge_runtime" / "demo_data" / "lfw"
    ann, bob = demo / "enrolled" / "Angela_Bassett", demo / "enrolled" / "Boris_Becker"
    for person in (ann, bob):
        (tmp_path / "enroll" / person.name).mkdir(parents=True)
        (tmp_path / "enroll" / person.name / "1.jpg").write_bytes(sorted(person.glob("*.jpg"))[0].read_bytes())
    shown = [(ann.name, sorted(ann.glob("*.jpg"))[1]), (bob.name, sorted(bob.glob("*.jpg"))[1])]
    truth = write_photo_video(shown, tmp_path / "video.mp4", 6, in_place=True)
    video = {"faces": 1, "in place": True, "repeat": 1, "test folds": 0}
    (tmp_path / "truth.json").write_text(json.dumps({"video": video, "frames": truth}))
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    video_test.score(tmp_path, [], "tiny")
    figures = results.load_result("tiny")["figures"]
    assert figures["wrong names (frames)"] == 0  # the old tracker gave Bob's first two frames Ann's name
    assert figures["frames pending (a face recognised, its name not yet confirmed)"] == 4  # two of each
    assert "| one face, each photo where the last stood | 12 |" in TABLES["video_test"]([figures])
