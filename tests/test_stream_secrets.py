"""A stream's password never reaches the screen or a log, whatever characters it holds (`#`, `?`,
`/`, `@`, `:` unencoded, as cameras' web pages hand them out), and the stream is named after its
host and path; in an `--inputs` file a `#` inside a URI is part of it, not a comment. The real
parsing functions and real `edge-recognize` runs against an unreachable camera."""

import subprocess
import sys
from pathlib import Path

import pytest
from processes import stop_once_logged

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.enrollment import enroll_images, new_gallery
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.sources import hide_password
from edge_runtime.loop.streams import default_name, plan_streams, read_stream_list

SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
MODEL = ["-m", str(packaged_model(ATT_FACES_MODEL))]
SPECIALS = ["#", "?", "/", "@", ":"]
HALVES = ("Pa55", "w0rd")  # the password is Pa55<special>w0rd: neither half may be shown


def _camera(special: str, host: str = "cam.local:5554") -> str:
    return f"rtsp://admin:{HALVES[0]}{special}{HALVES[1]}@{host}/live"


def _shows_no_secret(text: str) -> None:
    assert HALVES[0] not in text and HALVES[1] not in text, text


@pytest.mark.parametrize("special", SPECIALS)
def test_a_password_with_any_character_is_masked_and_the_stream_named_after_its_host(special):
    assert hide_password(_camera(special)) == "rtsp://admin:***@cam.local:5554/live"
    assert default_name(_camera(special)) == "cam.local-live"
    assert hide_password("rtsp://10.0.0.5/live?channel=1#x") == "rtsp://10.0.0.5/live?channel=1#x"  # none to hide
    assert hide_password("rtsp://ann@10.0.0.5/live") == "rtsp://ann@10.0.0.5/live"  # a user, no password
    assert default_name("rtsp://ann:pw@[fe80::1]:554/live/main?x=1") == "fe80::1-main"


def test_a_hash_inside_a_uri_in_a_stream_list_is_not_a_comment(tmp_path):
    listed = tmp_path / "streams.txt"
    listed.write_text(f"# cameras\n{_camera('#')} front  # the front door\n{_camera('#', 'yard')}#no-space\n")
    assert [(s.name, s.uris) for s in plan_streams([], read_stream_list(listed))] == [
        ("front", (_camera("#"),)),
        ("yard-live", (f"{_camera('#', 'yard')}#no-space",)),
    ]
    listed.write_text(f"{_camera('#')} front extra\n")  # a bad line is quoted masked
    with pytest.raises(Exception, match="line 1: give URI or URI NAME") as refused:
        read_stream_list(listed)
    _shows_no_secret(str(refused.value))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, faces_root) -> Path:
    embedder = Embedder(packaged_model(ATT_FACES_MODEL), providers=("cpu",))
    known = new_gallery(embedder)
    enroll_images(known, embedder, "s1", [faces_root / "s1" / "1.png"])
    path = tmp_path_factory.mktemp("gallery") / "g.npz"
    known.save(path)
    return path


@pytest.mark.parametrize("special", SPECIALS)
def test_an_unreachable_camera_with_such_a_password_shows_none_of_it(gallery, special):
    """One input that does not open ends the run at once, in one line, the password masked."""
    done = subprocess.run(
        [str(SCRIPTS / "edge-recognize"), *MODEL, "-g", str(gallery), "--headless", "--json",
         "-i", _camera(special, "127.0.0.1:9")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    _shows_no_secret(done.stdout + done.stderr)
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("edge-recognize: error: cannot open stream rtsp://admin:***@127.0.0.1:9/live:")
    )


def test_an_unreachable_camera_listed_with_a_hash_in_its_password_is_named_and_masked(gallery, faces_root, tmp_path):
    """Among several streams it is retried until SIGTERM: every retry masked, under its own name."""
    listed = tmp_path / "streams.txt"
    listed.write_text(f"{faces_root / 's1'} photos\n{_camera('#', '127.0.0.1:9')} front # the front door\n")
    errors = tmp_path / "stderr.txt"
    command = [str(SCRIPTS / "edge-recognize"), *MODEL, "-g", str(gallery), "--headless", "--json", "--inputs",
               str(listed)]  # fmt: skip
    code, output, _ = stop_once_logged(command, errors, "retrying in 1.0 s")
    log = errors.read_text()
    assert code == 0, log
    _shows_no_secret(output + log)
    assert "cannot open stream rtsp://admin:***@127.0.0.1:9/live; retrying in 1.0 s" in log
    assert "front: 0 frames" in log
