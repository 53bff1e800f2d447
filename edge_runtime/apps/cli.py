"""The runtime's commands: `edge-recognize`, `edge-gallery`, `edge-verify` and `edge-search`.

They only parse options and call the package; errors a user can cause become one line and exit 2.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
from pathlib import Path

import click

from edge_runtime.apps import shared_gallery
from edge_runtime.apps.serving import plan_serving, start_beside_loop, token_options
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.core.command_line import CONTEXT, one_line_errors, verbose_option
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.faces.face_alignment import LANDMARKS
from edge_runtime.faces.face_quality import QualityGate
from edge_runtime.faces.regions import DEFAULT_GATE, DEFAULT_MIN_SCORE, DETECTORS, RegionFinder, make_regions
from edge_runtime.fleet.database import is_database
from edge_runtime.fleet.mqtt_events import EventPublisher
from edge_runtime.identity.calibration import calibration_rows, candidate_thresholds, recognise_photos
from edge_runtime.identity.enrollment import (
    add_to_saved,
    enroll_folder,
    enroll_paths,
    identity_images,
    new_gallery,
    open_gallery,
    usable_region,
)
from edge_runtime.identity.gallery import Gallery, GalleryError, changing
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.search_index import BACKENDS
from edge_runtime.identity.thresholds import ThresholdChoice, check_request, choose_threshold
from edge_runtime.identity.tracker import DEFAULT_MIN_VOTES, IouTracker, SeparateImages
from edge_runtime.identity.verification import verify as verify_regions
from edge_runtime.imaging.preprocessing import is_image_file, read_image
from edge_runtime.inference.embedder import Embedder, warm_up
from edge_runtime.inference.providers import CUDNN_SEARCH, PROVIDER_NAMES, ProviderSettings
from edge_runtime.io.outputs import JsonLinesSink, OutputError, VideoFileSink, display_available, display_problem
from edge_runtime.loop.pipeline import BATCH_WAIT, RecognitionLoop
from edge_runtime.loop.streams import (
    open_streams,
    plan_streams,
    read_stream_list,
    refuse_overwriting_inputs,
    stream_outputs,
)

log = logging.getLogger("edge_runtime")
GALLERY_HELP = "Gallery file (.npz), or postgresql://USER@HOST/DB (password: PGPASSWORD or ~/.pgpass)."
device_option = click.option("--device", default="", help="This device's name in a shared gallery and in events "
                             "(default: the host name).")  # fmt: skip
copy_option = click.option("--gallery-copy", type=click.Path(dir_okay=False), help="A PostgreSQL gallery: where "
                           "this device keeps its copy (default: under ~/.cache/siamese-edge).")  # fmt: skip


class Rate(click.FloatRange):
    """A rate strictly between 0 and 1 (a FAR, a false-name rate); NaN is refused, not compared."""

    name = "rate"

    def __init__(self) -> None:
        super().__init__(0, 1, min_open=True, max_open=True)

    def convert(self, value, param, ctx):
        """The number `value` gives, refused (a usage error) outside 0<x<1 or NaN."""
        number = super().convert(value, param, ctx)  # NaN passes FloatRange: it is in no order
        if math.isnan(number):
            self.fail(f"{value!r} is not a number; give one in the range 0<x<1", param, ctx)
        return number


class CosineThreshold(click.FloatRange):
    """A cosine threshold: a number strictly between -1 and 1. Cosine scores lie in [-1, 1]: at -1 or
    below everyone would be named (nobody unknown), at 1 or above nobody (but an image enrolled
    itself); NaN, which compares false with every score, would call everyone unknown."""

    name = "cosine threshold"

    def __init__(self) -> None:
        super().__init__(-1, 1, min_open=True, max_open=True)

    def convert(self, value, param, ctx):
        """The number `value` gives, refused (a usage error) outside -1<x<1 or NaN."""
        number = super().convert(value, param, ctx)  # NaN passes FloatRange: it is in no order
        if math.isnan(number):
            self.fail(f"{value!r} is not a number; give one in the range -1<x<1", param, ctx)
        return number


def _not_empty(ctx, param, values):
    """Refuse an empty --input value (it would name the current folder)."""
    if any(not value.strip() for value in values):
        raise click.BadParameter("an empty input names nothing; give a camera, stream, file or folder")
    return values


def _roi(value: str | None):
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("give x,y,w,h in pixels") from None
    return (x, y, w, h)


def model_options(command):
    """--model, --provider and the GPU provider options, shared by every runtime command."""
    options = [
        click.option(
            "--model", "-m", type=click.Path(dir_okay=False), help=f"ONNX model (default: the bundled {DEFAULT_MODEL})."
        ),
        click.option(
            "--provider",
            "providers",
            multiple=True,
            default=("auto",),
            type=click.Choice(["auto", *PROVIDER_NAMES]),
            help="Execution providers in order (repeatable); auto = TensorRT, CUDA, CPU as available.",
        ),
        click.option("--require-provider", is_flag=True, help="Fail instead of falling back to another provider."),
        click.option("--trt-fp16", is_flag=True, help="TensorRT: allow FP16 kernels."),
        click.option("--engine-cache", type=click.Path(file_okay=False), help="TensorRT engine cache folder."),
        click.option("--device-id", type=int, default=0, help="GPU to use."),
        click.option("--cuda-mem-limit", type=int, help="CUDA: memory limit in bytes."),
        click.option("--cudnn-search", type=click.Choice(CUDNN_SEARCH), default="HEURISTIC", help="CUDA: conv search."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def detector_options(command):
    """--detector, --min-face, --roi and the face quality gate: what part of an image is recognised."""
    options = [
        click.option(
            "--detector",
            type=click.Choice(DETECTORS),
            default="auto",
            help="auto: faces for face models, the whole image otherwise; face: YuNet; haar: the old cascade.",
        ),
        click.option(
            "--min-face",
            type=click.IntRange(min=8),
            default=DEFAULT_GATE.min_size,
            help="Smallest face to detect and recognise, in pixels.",
        ),
        click.option(
            "--min-score",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=DEFAULT_MIN_SCORE,
            help="Smallest face detection score (YuNet).",
        ),
        click.option(
            "--landmarks",
            type=click.Choice(LANDMARKS),
            default="dlib",
            help="What finds the five points faces are cut by: dlib's cascade (exact), or net: a small "
            "network trained on its points, faster in crowds.",
        ),
        click.option("--roi", help="Recognise this region x,y,w,h instead of detecting."),
        click.option(
            "--min-sharpness",
            type=float,
            default=DEFAULT_GATE.min_sharpness,
            help="Skip blurrier faces (Laplacian variance).",
        ),
        click.option(
            "--min-frontality",
            type=float,
            default=DEFAULT_GATE.min_frontality,
            help="Skip faces turned further (1 frontal, 0 nose in line with an eye).",
        ),
        click.option("--no-quality", is_flag=True, help="Recognise every face, however small, blurred or turned."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _regions(embedder: Embedder, options: dict) -> RegionFinder:
    """The RegionFinder the detector options describe for this model (they are removed from `options`)."""
    min_face = options.pop("min_face")
    gate = QualityGate(min_face, options.pop("min_sharpness"), options.pop("min_frontality"))
    if options.pop("no_quality"):
        gate = None
    detector, roi, min_score = options.pop("detector"), _roi(options.pop("roi")), options.pop("min_score")
    return make_regions(embedder.info, detector, roi, min_face, gate, min_score, options.pop("landmarks"))


def threshold_options(command):
    """--threshold, --far and --false-name-rate: the "unknown" threshold, as a cosine or by what it means."""
    options = [
        click.option(
            "--threshold",
            type=CosineThreshold(),
            help="Cosine threshold for unknown, in -1<x<1 (default: the gallery's stored choice, else the model's).",
        ),
        click.option(
            "--far",
            type=Rate(),
            help="The threshold of this pairwise false accept rate in the model's FAR table (1e-1 … 1e-5).",
        ),
        click.option(
            "--false-name-rate",
            type=Rate(),
            help="The chance a stranger gets some enrolled name: sets the pairwise FAR from it and the gallery's size.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


THRESHOLD_OPTIONS = ("threshold", "far", "false_name_rate")  # the options of `threshold_options`


def _threshold(embedder: Embedder, options: dict, known: Gallery | None = None) -> ThresholdChoice:
    """The threshold the options ask for with this gallery (they are removed from `options`)."""
    return choose_threshold(
        embedder.info.threshold,
        embedder.info.far_table,
        **{name: options.pop(name) for name in THRESHOLD_OPTIONS},
        people=max(1, len(known)) if known is not None else 1,
        stored=known.stored_threshold if known is not None else None,
        model_far=embedder.info.target_far,
    )


def _embedder(options: dict) -> Embedder:
    """The Embedder that the model options describe (they are removed from `options`)."""
    settings = ProviderSettings(
        device_id=options.pop("device_id"),
        tensorrt_fp16=options.pop("trt_fp16"),
        engine_cache_dir=Path(cache) if (cache := options.pop("engine_cache")) else None,
        cuda_memory_limit=options.pop("cuda_mem_limit"),
        cudnn_search=options.pop("cudnn_search"),
    )
    model = options.pop("model") or packaged_model(DEFAULT_MODEL)
    embedder = Embedder(model, options.pop("providers"), settings, options.pop("require_provider"))
    info = embedder.info
    log.info("model %s (%s, %s, hash %s, galleries of family %s); providers: %s", embedder.path, info.arch,
             info.precision, info.model_hash, info.family, ", ".join(embedder.active_providers))  # fmt: skip
    return embedder


@click.command(context_settings=CONTEXT)
@verbose_option
@model_options
@detector_options
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), help=GALLERY_HELP)
@copy_option
@device_option
@click.option(
    "--events",
    help="Appearances on MQTT: mqtt://HOST:PORT/PREFIX (mqtts:// for TLS; password: SIAMESE_EDGE_MQTT_PASSWORD).",
)
@click.option("--enroll", type=click.Path(file_okay=False), help="Enroll this folder first (<name>/<image>).")
@click.option(
    "--input",
    "-i",
    "uris",
    multiple=True,
    callback=_not_empty,
    help="Camera index, /dev/videoN, csi://N, rtsp://…, video file, or photos: image files and folders. Repeatable: "
    "several photos are one input; with any camera, stream or video among them, each -i is a stream.",
)
@click.option(
    "--inputs",
    "stream_list",
    type=click.Path(dir_okay=False),
    help="A file listing streams, one a line: URI, or URI NAME (quote spaces as in a shell; # at a line's start or "
    "after a space starts a comment).",
)
@click.option("--camera", type=int, help="Camera index (same as --input N).")
@click.option("--input-width", type=int)
@click.option("--input-height", type=int)
@click.option("--input-rate", type=int)
@threshold_options
@click.option(
    "--smooth",
    type=click.IntRange(min=1),
    default=5,
    help="Votes a track's name is decided over (videos and cameras).",
)
@click.option(
    "--min-votes",
    type=click.IntRange(min=1),
    default=DEFAULT_MIN_VOTES,
    help="Votes a name needs, beside a majority, to be confirmed (at most --smooth).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the annotated video here (several streams: OUT.NAME.mp4 each, or the grid with --mosaic).",
)
@click.option("--mosaic", is_flag=True, help="Several streams: write --output as one video of their grid.")
@click.option(
    "--batch-wait",
    type=click.FloatRange(min=0),
    default=1000 * BATCH_WAIT,
    help="Several streams: milliseconds a batch waits, after a first frame, for the other streams' frames.",
)
@click.option("--headless", is_flag=True, help="Never open a window.")
@click.option("--json", "json_lines", is_flag=True, help="JSON lines on stdout, one per recognition.")
@click.option("--max-frames", type=int, help="Stop each stream after this many frames.")
@click.option("--build-engine", is_flag=True, help="Build and cache the TensorRT engine, then exit.")
@click.option("--index", type=click.Choice(BACKENDS), default="numpy", help="Gallery search (faiss: millions).")
@click.option("--serve", "address", help="Serve the page and API on HOST:PORT while recognising (see docs/web.md).")
@token_options
@one_line_errors()
def recognize(gallery, gallery_copy, device, events, enroll, uris, stream_list, camera, smooth, min_votes, output,
              mosaic, batch_wait,
              headless, json_lines, max_frames, input_width, input_height, input_rate, build_engine, index,
              address, token_file, no_auth, **options):  # fmt: skip
    """Recognise enrolled identities in cameras, streams, videos or folders (one or several), or say unknown."""
    given = click.get_current_context().get_parameter_source("min_votes") is not click.core.ParameterSource.DEFAULT
    if given and min_votes > smooth:  # (the default is lowered to a smaller --smooth on its own)
        raise click.BadParameter(
            f"{min_votes} votes can never come out of the last {smooth} (--smooth): give at most {smooth}",
            param_hint="'--min-votes'",
        )
    specs = plan_streams([*uris, *([str(camera)] if camera is not None else [])],
                         read_stream_list(stream_list) if stream_list else [])  # fmt: skip
    serving = plan_serving(address, token_file, no_auth) if address else None  # before any work
    several = len(specs) > 1
    videos = stream_outputs(output, [s.name for s in specs]) if output and several and not mosaic else {}
    if output:  # before anything is opened or written
        refuse_overwriting_inputs(list(videos.values()) or [Path(output)], specs)
    show = not headless and not build_engine and display_available()
    if show and (problem := display_problem()):  # Qt would abort the run at its first frame
        raise OutputError(f"{problem}; use --headless (no window), or fix the display (edge-doctor)")
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    check_request(embedder.info.far_table, **{name: options[name] for name in THRESHOLD_OPTIONS})
    if build_engine:
        warm_up(embedder)
        return
    if not specs:
        raise click.UsageError("give --input, --inputs or --camera")
    shared = None
    if is_database(gallery):  # a device's copy of the shared gallery, followed while it runs
        if enroll:
            shared_gallery.enroll(gallery, embedder, finder, [Path(enroll)], None, device, folder=True)
        known, shared = shared_gallery.open_copy(gallery, embedder, finder, index, gallery_copy, device)
    else:
        with changing(gallery) if gallery and enroll else contextlib.nullcontext():
            if gallery:
                known = open_gallery(gallery, embedder, bool(enroll or address), index, finder)  # (--serve: enrols)
            else:
                known = new_gallery(embedder, index, finder)
            if enroll:
                counts = enroll_folder(known, embedder, enroll, finder)
                log.info("enrolled %s from %s", counted(len(counts), "identity", "identities"), enroll)
                if gallery:
                    known.save(gallery)
    publisher = EventPublisher(events, device) if events else None
    if len(known) == 0 and not show and shared is None and not address:  # (a server enrols from its page)
        raise GalleryError("the gallery is empty; enroll identities (--enroll, edge-gallery enroll) first")
    choice = _threshold(embedder, options, known)
    recognizer = Recognizer(embedder, known, finder, choice.threshold, choice.by_size)
    streams = open_streams(specs, input_width, input_height, input_rate)
    for stream in streams:
        log.info("input%s: %s", f" {stream.name}" if several else "", stream.source.description)
    log.info("%s; threshold %.4f (%s)", counted(len(known), "identity", "identities"), choice.threshold, choice.why)
    if show:
        log.info("press e to enroll the person in view, q to quit")

    def enroll_live(key, frame, results):
        if key != ord("e"):
            return
        try:
            region = usable_region(frame, finder, "the frame")
            name = click.prompt("name for the person in view", err=True)  # the other streams go on meanwhile
            embeddings = embedder.embed([region])
            with loop.gallery_lock:  # not while typing: the batch thread matches under it
                recognizer.gallery.add(name, embeddings, ["live"])  # (the one a server may have replaced)
        except SiameseEdgeError as error:
            log.warning("not enrolled: %s", error)
            return
        if gallery:
            try:
                if shared is not None:
                    shared_gallery.enroll_one(gallery, embedder.info.family, name, embeddings, device)
                else:
                    add_to_saved(gallery, embedder, name, embeddings, ["live"], finder)
            except SiameseEdgeError as error:
                log.warning("enrolled %s for this run, not saved: %s", name, error)
                return
        log.info("enrolled %s", name)

    grid, server, service = None, None, None
    if shared is not None:
        shared.start(recognizer)  # each new gallery swapped in whole
    if publisher is not None:
        publisher.start([s.name for s in streams])
    try:
        if address:  # the web server, beside the loop: its recognizer, its gallery, every frame
            server, service = start_beside_loop(serving, recognizer, gallery, index, [s.name for s in streams])
        for stream in streams:
            photos = stream.source.separate_images
            stream.tracker = SeparateImages() if photos else IouTracker(smooth=smooth, min_votes=min_votes)
            if output and not (mosaic and several):
                stream.video = VideoFileSink(videos.get(stream.name, output), stream.source.rate)
        if output and mosaic and several:
            grid = VideoFileSink(output, max(s.source.rate for s in streams))
        loop = RecognitionLoop(streams, recognizer, video=grid, events=JsonLinesSink() if json_lines else None,
                               publisher=publisher, show=show, max_frames=max_frames, on_key=enroll_live,
                               batch_wait=batch_wait / 1000, live=service.hub if service else None)  # fmt: skip
        if service is not None:
            loop.gallery_lock = service.lock
        summary = loop.run()
    finally:
        if server is not None:
            server.stop()
        for stream in streams:
            stream.source.close()
        if shared is not None:
            shared.stop()
        if publisher is not None:
            publisher.close()
        for video in [s.video for s in streams] + [grid]:
            if video is not None:
                with contextlib.suppress(OutputError):  # said once, by the loop; the file is gone
                    video.close()  # a run that never started leaves no partial file
    _log_summary(summary, several)
    if publisher is not None:
        log.info("%s", publisher.describe())
    for name, video in [("", grid)] if grid else [(s.name, s.video) for s in streams if s.video]:
        of = f" (stream {name})" if videos else ""
        log.info("annotated video: %s", f"{video.path}{of}" if video.size else
                 f"none for {video.path}{of} (no frame was written)")  # fmt: skip


def _log_summary(summary, several: bool) -> None:
    stages = ", ".join(f"{k} {v:.1f} ms" for k, v in summary.stage_ms().items())
    log.info("%d frames in %.1f s: %.1f FPS (%s)", summary.frames, summary.seconds, summary.fps, stages)
    if several:
        log.info("%d streams, one model: %s", len(summary.streams), summary.describe_batches())
        for stream in summary.streams:
            log.info("  %s", stream.describe())
    log.info("seen: %s", ", ".join(f"{n} ×{c}" for n, c in sorted(summary.appearances.items())) or "nobody")
    log.info("%s", summary.describe_unnamed())
    if summary.quit:
        log.info("stopped (q pressed in the window) after %d frames", summary.frames)
    elif summary.interrupted:
        log.info("stopped (Ctrl-C, SIGTERM or SIGHUP) after %d frames", summary.frames)


@click.group(context_settings=CONTEXT)
def gallery_command():
    """Manage a gallery of enrolled identities."""


@gallery_command.command("enroll")
@verbose_option
@model_options
@detector_options
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True, help=GALLERY_HELP)
@device_option
@click.option(
    "--keep-faces",
    is_flag=True,
    help="A PostgreSQL gallery: store the aligned faces too (personal data), "
    "so edge-gallery reembed can enrol everyone for a new model.",
)
@click.option("--name", help="Enroll the IMAGES (files, or folders of them) under this name.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@one_line_errors()
def gallery_enroll(gallery, device, keep_faces, name, paths, **options):
    """Enroll identities from folders (<name>/<image>) or, with --name, one person's images."""
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    if is_database(gallery):
        return shared_gallery.enroll(gallery, embedder, finder, [Path(p) for p in paths], name, device,
                                     keep_faces=keep_faces)  # fmt: skip
    if keep_faces:
        raise click.BadParameter("faces are kept in a PostgreSQL gallery only (-g postgresql://…)",
                                 param_hint="'--keep-faces'")  # fmt: skip
    with changing(gallery):
        known = open_gallery(gallery, embedder, create=True, regions=finder)
        enroll_paths(known, embedder, [Path(p) for p in paths], name, finder)
        known.save(gallery)
    click.echo(f"{counted(len(known), 'identity', 'identities')} in {gallery}")


@gallery_command.command("calibrate")
@verbose_option
@model_options
@detector_options
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True)
@click.option(
    "--people",
    required=True,
    type=click.Path(file_okay=False, exists=True),
    help="Other photos of enrolled people, from your camera: <name>/<image>, not the photos they were enrolled from.",
)
@click.option(
    "--strangers",
    required=True,
    type=click.Path(file_okay=False, exists=True),
    help="Photos of people who are not enrolled, from your camera (any names, subfolders allowed).",
)
@click.option("--store", type=CosineThreshold(), help="Store this threshold in the gallery (a row's threshold).")
@one_line_errors()
def gallery_calibrate(gallery, people, strangers, store, **options):
    """Measure each candidate threshold on your own photos (enrolled people named, strangers named) and
    store the one you choose in the gallery: runs with it use it unless given --threshold, --far or
    --false-name-rate."""
    if is_database(gallery):
        where = "give this device's copy of the PostgreSQL gallery (edge-gallery sync says where it is)"
        raise click.BadParameter(f"calibrate stores its choice in a gallery file: {where}", param_hint="'-g'")
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    known = open_gallery(gallery, embedder, create=False, regions=finder)
    probes = recognise_photos(known, embedder, finder, _calibration_photos(known, Path(people), Path(strangers)))
    if not any(p.truth != UNKNOWN for p in probes) or not any(p.truth == UNKNOWN for p in probes):
        raise SiameseEdgeError("calibration needs usable photos of both enrolled people and strangers (see warnings)")
    rows = calibration_rows(probes, candidate_thresholds(embedder.info, known.stored_threshold, probes))
    click.echo("| threshold | chosen by | enrolled photos named right | named wrongly | strangers named |")
    click.echo("| ---: | --- | ---: | ---: | ---: |")
    for row in rows:
        click.echo(f"| {row.threshold:.4f} | {row.source} | {100 * row.tar:.1f}% ({row.named_right}/"
                   f"{row.enrolled_photos}) | {row.wrong_names} | {100 * row.false_name_rate:.1f}% "
                   f"({row.strangers_named}/{row.strangers}) |")  # fmt: skip
    if store is None and sys.stdin.isatty():
        store = click.prompt("store a threshold in the gallery (empty: none)", default="", show_default=False,
                             type=_OptionalThreshold(), err=True)  # fmt: skip
    if store is None:
        click.echo("nothing stored; give --store THRESHOLD to store one")
        return
    chosen = next((row for row in rows if math.isclose(row.threshold, store, abs_tol=5e-5)), None)
    measured = calibration_rows(probes, [(store, "chosen by hand")])[0] if chosen is None else chosen
    with changing(gallery, create=False):
        fresh = open_gallery(gallery, embedder)
        fresh.stored_threshold = (float(store), measured.note())
        fresh.save(gallery)
    click.echo(f"stored threshold {store:.4f} in {gallery}: {measured.note()}")


class _OptionalThreshold(CosineThreshold):
    """A cosine threshold, or nothing (an empty answer)."""

    def convert(self, value, param, ctx):
        """None for an empty answer, else the threshold `value` gives."""
        return None if value in ("", None) else super().convert(value, param, ctx)


def _calibration_photos(known: Gallery, people: Path, strangers: Path) -> list[tuple[str, Path]]:
    """(who, photo) for calibration: enrolled people's photos by name, then every stranger's photo."""
    photos = []
    for name, paths in identity_images(people).items():
        if name not in known.names:
            raise SiameseEdgeError(f"{people / name} is not enrolled in the gallery; put those photos in --strangers")
        photos += [(name, path) for path in paths]
    entries = sorted(strangers.rglob("*"))
    enrolled = next((p for p in entries if p.name in known.names or p.stem in known.names), None)
    if enrolled is not None:
        raise SiameseEdgeError(f"{enrolled} is enrolled in the gallery; put those photos in --people")
    found = [p for p in entries if is_image_file(p)]
    if not found:
        raise SiameseEdgeError(f"no photos of strangers in {strangers}")
    return photos + [(UNKNOWN, path) for path in found]


@gallery_command.command("list")
@verbose_option
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True)
@one_line_errors()
def gallery_list(gallery):
    """List the enrolled identities and their image counts."""
    if is_database(gallery):
        return shared_gallery.list_people(gallery)
    known = Gallery.load(gallery)
    identities = counted(len(known), "identity", "identities")
    click.echo(f"{identities}, model {known.model_hash}, embedding size {known.embedding_size}")
    for name, count in known.counts().items():
        click.echo(f"{name}\t{count}")


@gallery_command.command("remove")
@verbose_option
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True)
@device_option
@click.argument("names", nargs=-1, required=True)
@one_line_errors()
def gallery_remove(gallery, device, names):
    """Remove identities."""
    if is_database(gallery):
        return shared_gallery.remove(gallery, list(names), device)
    with changing(gallery, create=False):
        known = Gallery.load(gallery)
        for name in names:
            known.remove(name)
        known.save(gallery)
    click.echo(f"{counted(len(known), 'identity', 'identities')} in {gallery}")


@gallery_command.command("rename")
@verbose_option
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True)
@click.argument("old")
@click.argument("new")
@click.option("--merge", is_flag=True, help="NEW may already exist: merge OLD's images into it.")
@device_option
@one_line_errors()
def gallery_rename(gallery, old, new, merge, device):
    """Rename an identity (onto an existing one only with --merge)."""
    if is_database(gallery):
        return shared_gallery.rename(gallery, old, new, merge, device)
    with changing(gallery, create=False):
        known = Gallery.load(gallery)
        known.rename(old, new, merge)
        known.save(gallery)
    click.echo(f"renamed {old} to {new}")


@gallery_command.command("reembed")
@verbose_option
@model_options
@click.option("--gallery", "-g", required=True, help="A PostgreSQL gallery: postgresql://USER@HOST/DB.")
@device_option
@one_line_errors()
def gallery_reembed(gallery, device, **options):
    """A PostgreSQL gallery: enrol everyone whose faces were kept (--keep-faces) for this model (-m) too."""
    if not is_database(gallery):
        raise click.BadParameter("reembed works on a PostgreSQL gallery (postgresql://…)", param_hint="'-g'")
    shared_gallery.reembed(gallery, _embedder(options), device)


@gallery_command.command("sync")
@verbose_option
@model_options
@click.option("--gallery", "-g", required=True, help="A PostgreSQL gallery: postgresql://USER@HOST/DB.")
@copy_option
@device_option
@one_line_errors()
def gallery_sync(gallery, gallery_copy, device, **options):
    """A PostgreSQL gallery: bring this device's copy for the model up to date now, and say where it is."""
    if not is_database(gallery):
        raise click.BadParameter("sync copies a PostgreSQL gallery (postgresql://…)", param_hint="'-g'")
    click.echo(shared_gallery.sync_now(gallery, _embedder(options), gallery_copy, device))


@click.command(context_settings=CONTEXT)
@verbose_option
@model_options
@detector_options
@threshold_options
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@one_line_errors()
def verify(first, second, **options):
    """1:1 verification: is SECOND the same identity as FIRST (for signature models: genuine or forged)?"""
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    choice = _threshold(embedder, options)
    log.info("threshold %.4f (%s)", choice.threshold, choice.why)
    threshold = choice.threshold
    reference, questioned = (usable_region(read_image(path), finder, path) for path in (first, second))
    click.echo(json.dumps(verify_regions(embedder, reference, questioned, threshold).to_dict()))


@click.command(context_settings=CONTEXT)
@verbose_option
@model_options
@detector_options
@click.option("--gallery", "-g", type=click.Path(dir_okay=False), required=True, help=GALLERY_HELP)
@copy_option
@click.option("-k", type=click.IntRange(min=1), default=5, help="How many results.")
@click.argument("query", type=click.Path(dir_okay=False))
@one_line_errors()
def search(gallery, gallery_copy, k, query, **options):
    """Image retrieval: the K enrolled images most similar to QUERY."""
    embedder = _embedder(options)
    finder = _regions(embedder, options)
    region = usable_region(read_image(query), finder, query)
    if is_database(gallery):
        known = shared_gallery.open_copy(gallery, embedder, finder, copy=gallery_copy)[0]
    else:
        known = open_gallery(gallery, embedder, regions=finder)
    for rank, (name, source, score) in enumerate(known.search(embedder.embed([region])[0], k), start=1):
        click.echo(f"{rank}\t{score:.4f}\t{name}\t{source}")
