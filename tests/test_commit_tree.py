"""Another commit's console script run beside the current one: checked out, found and importing its own code."""

import pytest

from benchmarks.commit_tree import CommitTreeError, checked_out, console_script, entry_point, full_commit

PYPROJECT = """[project]
name = "x"

[project.scripts]
edge-demo = "edge_runtime.apps.demo:main"
"edge-recognize" = "edge_runtime.apps.cli:recognize"

[tool.setuptools]
edge-doctor = "not:a_script"
"""


def test_a_console_script_is_read_from_its_section_only():
    assert console_script(PYPROJECT, "edge-recognize") == "edge_runtime.apps.cli:recognize"
    assert console_script(PYPROJECT, "edge-demo") == "edge_runtime.apps.demo:main"
    assert console_script(PYPROJECT, "edge-doctor") is None


def test_a_checked_out_commit_runs_its_own_code_and_is_removed_after():
    with checked_out("HEAD") as tree:
        program = entry_point(tree, "edge-recognize")
        assert program.cwd == tree and program.env["PYTHONPATH"] == str(tree)
        done = program.run(["--help"])
        assert done.returncode == 0 and "--enroll" in done.stdout
        with pytest.raises(CommitTreeError, match="no console script 'edge-nothing'"):
            entry_point(tree, "edge-nothing")
    assert not tree.exists()
    assert len(full_commit("HEAD")) == 40
    with pytest.raises(CommitTreeError, match="no commit"):
        full_commit("no-such-commit")
