"""Several inputs in one run: which inputs are streams, what each is called, and opening them.

The rule that tells several photos from several streams:

- `-i` once: one input (a camera, a stream, a video file, a folder or an image file);
- `-i` several times, every one an image file or a folder of images: ONE input, the photos one by
  one (as with a single folder);
- `-i` several times, any of them a camera, stream or video file: each `-i` is a stream of its own
  (a folder among them is a stream of its photos);
- `--inputs FILE`: one stream a line, always streams, `URI` or `URI NAME` (quote a URI or name
  that holds spaces, as in a shell; `#` at the start of a line or after a space starts a comment,
  one inside a URI, as in a password, does not).

A stream is named by its line in `--inputs`, else after its URI (`door.mp4` → `door`, camera 0 →
`camera0`, `rtsp://user:pw@10.0.0.5/live` → `10.0.0.5-live`, never the credentials, whatever
characters the password holds); a name that comes twice gets `-2`, `-3`.
"""

from __future__ import annotations

import logging
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.faces.regions import RegionFinder
from edge_runtime.identity.tracker import IouTracker, SeparateImages
from edge_runtime.io.outputs import OutputError, VideoFileSink
from edge_runtime.io.sources import (
    SourceError,
    hide_password,
    is_image_file,
    names_photos,
    open_source,
    open_sources,
    uri_kind,
    url_host,
    url_parts,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSpec:
    """An input to open: its name, and its URI (several URIs: one group of photos)."""

    name: str
    uris: tuple[str, ...]


@dataclass
class Stream:
    """One input of a recognition run: its source, its name (in every JSON line), its tracker, its
    annotated video, and the region finder its own thread detects with (default: one like the
    recognizer's). Unset, the tracker follows the source: `SeparateImages` for photos, else `IouTracker`."""

    source: object
    name: str = "input"
    tracker: IouTracker | SeparateImages | None = None
    video: VideoFileSink | None = None
    regions: RegionFinder | None = None


def default_name(uri: str) -> str:
    """A short name for the input `uri` names (no credentials, no folders)."""
    kind = uri_kind(uri)
    if kind == "index":
        return f"camera{uri}"
    if kind == "device":
        return uri[len("/dev/") :]
    if kind == "csi":
        return f"csi{uri[len('csi://') :] or 0}"
    if kind == "stream":
        path = re.split(r"[?#]", url_parts(uri)[3], maxsplit=1)[0]
        last = path.rstrip("/").rsplit("/", 1)[-1]
        return "-".join(p for p in (url_host(uri) or "stream", last) if p)
    path = Path(uri)
    return (path.name if path.is_dir() else path.stem) or "input"


def _without_comment(line: str) -> str:
    """`line` up to its comment: a `#` outside quotes at the start of a word (the line's start, or
    after a space), as in a shell; one inside a word, as in `rtsp://admin:se#cret@host`, is kept."""
    quote, escaped, word_start = "", False, True
    for index, char in enumerate(line):
        if escaped:
            escaped, word_start = False, False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
        elif char == "\\":
            escaped, word_start = True, False
        elif char in "'\"":
            quote, word_start = char, False
        elif char.isspace():
            word_start = True
        elif char == "#" and word_start:
            return line[:index]
        else:
            word_start = False
    return line


def read_stream_list(path: str | Path) -> list[StreamSpec]:
    """The streams a `--inputs` file lists: `URI` or `URI NAME` a line, shell quoting, `#` comments
    (see `_without_comment`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"cannot read the stream list {path}: {getattr(error, 'strerror', None) or error}") from None
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            fields = shlex.split(_without_comment(line))
        except ValueError as error:
            raise SourceError(f"{path}, line {number}: {error}") from None
        if len(fields) > 2:
            shown = shlex.join(hide_password(field) for field in fields)
            raise SourceError(f"{path}, line {number}: give URI or URI NAME (quote what holds spaces), not {shown!r}")
        if fields and not fields[0].strip():
            raise SourceError(
                f"{path}, line {number}: an empty URI names nothing; give a camera, stream, file or folder"
            )
        if fields:
            specs.append(StreamSpec(fields[1] if len(fields) == 2 else "", (fields[0],)))
    if not specs:
        raise SourceError(f"the stream list {path} names no stream (one URI a line, optionally a name after it)")
    named = [s.name for s in specs if s.name]
    if twice := sorted({n for n in named if named.count(n) > 1}):
        raise SourceError(f"{path}: the stream name {twice[0]!r} is given twice; each stream needs its own")
    return specs


def plan_streams(uris: list[str], listed: list[StreamSpec] = ()) -> list[StreamSpec]:
    """The streams of a run (see the module's rule), each with a unique name."""
    if not listed and len(uris) > 1 and all(names_photos(uri) for uri in uris):
        specs = [StreamSpec("photos", tuple(uris))]
    else:
        specs = [StreamSpec("", (uri,)) for uri in uris] + list(listed)
    given = {s.name for s in specs if s.name}
    named = []
    for spec in specs:
        name = spec.name or _unused(default_name(spec.uris[0]), given)
        given.add(name)
        named.append(StreamSpec(name, spec.uris))
    return named


def _unused(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}-{number}" in taken:
        number += 1
    return f"{name}-{number}"


def open_streams(
    specs: list[StreamSpec], width: int | None = None, height: int | None = None, rate: int | None = None
) -> list[Stream]:
    """Open every stream at once (a slow one costs its own wait, not the others').

    One input that does not open is an error, as it always was. Among several, a camera or network
    stream that does not open is retried in the background, and a file or folder that does not
    open is reported and left out; when nothing opens at all, that is an error.
    """
    several = len(specs) > 1

    def attempt(spec: StreamSpec):
        try:
            if len(spec.uris) > 1:
                return open_sources(list(spec.uris), width, height, rate)
            return open_source(spec.uris[0], width, height, rate, keep_trying=several)
        except SourceError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        outcomes = list(pool.map(attempt, specs))
    if not several and isinstance(outcomes[0], SourceError):
        raise outcomes[0]
    streams, problems = [], []
    for spec, outcome in zip(specs, outcomes, strict=True):
        if isinstance(outcome, SourceError):
            log.warning("stream %s left out: %s", spec.name, outcome)
            problems.append(f"{spec.name}: {outcome}")
        else:
            streams.append(Stream(outcome, spec.name))
    if not streams:
        raise SourceError("no input could be opened: " + "; ".join(problems))
    return streams


def stream_output(path: str | Path, name: str) -> Path:
    """Where stream `name`'s annotated video goes when `--output` is `path`: `out.mp4` → `out.NAME.mp4`."""
    path = Path(path)
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._") or "stream"
    return path.with_name(f"{path.stem}.{safe}{path.suffix}")


def stream_outputs(path: str | Path, names: list[str]) -> dict[str, Path]:
    """Every stream's video (see `stream_output`), no two the same file: names that make one file name
    (`a/b` and `a_b`, or `Door` and `door` on a file system blind to case) get `-2`, `-3`."""
    outputs: dict[str, Path] = {}
    taken: set[str] = set()
    for name in names:
        wanted = stream_output(path, name)
        chosen, number = wanted, 2
        while chosen.name.casefold() in taken:
            chosen = wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")
            number += 1
        taken.add(chosen.name.casefold())
        outputs[name] = chosen
        if chosen != wanted:
            log.info("stream %s: video %s (%s is another stream's)", name, chosen, wanted.name)
    return outputs


def _same_file(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and second.exists() and first.samefile(second)
    except OSError:
        return False


def refuse_overwriting_inputs(outputs: list[Path], specs: list[StreamSpec]) -> None:
    """An OutputError when an output video is the same file as an input (a symlink to it, `./x.mp4` for
    `x.mp4`, a hard link), or an image in an input folder: writing it would destroy what is read."""
    for output in outputs:
        for spec in specs:
            for uri in spec.uris:
                if uri_kind(uri) != "path":
                    continue
                source = Path(uri)
                inside = source.is_dir() and output.resolve().is_relative_to(source.resolve())
                if _same_file(output, source) or (inside and output.is_file() and is_image_file(output)):
                    raise OutputError(f"--output {output} is the input {uri}: writing it would destroy the "
                                      "input; give another file")  # fmt: skip
