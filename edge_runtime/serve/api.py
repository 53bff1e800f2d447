"""The HTTP API (its OpenAPI schema at /docs): recognise and verify uploaded photos, the people of
the gallery, the streams and their live view, the events (also as Server-Sent Events), health and
Prometheus metrics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from edge_runtime.serve.guard import error
from edge_runtime.serve.service import Service
from edge_runtime.serve.uploads import UploadError, decode_upload

Photo = Annotated[UploadFile, File(description="an image file: JPEG, PNG, BMP, WebP, TIFF")]
Name = Annotated[str, Form()]
BOUNDARY = "frame"
SSE_POLL, SSE_KEEPALIVE = 0.5, 15.0
Count = Annotated[int, Query(ge=1, le=200, description="how many, 1-200")]


class Rename(BaseModel):
    """A new name for a person; `merge` onto one already enrolled."""

    name: str
    merge: bool = False


async def read_upload(upload: UploadFile, what: str) -> tuple[bytes, object]:
    """An upload's bytes and its decoded image (an UploadError, 4xx, when it is not a usable image)."""
    data = await upload.read()
    return data, await run_in_threadpool(decode_upload, data, what)


def api_router(service: Service, registry, requests) -> APIRouter:
    """The API's routes over `service`; `registry` is what /metrics shows, `requests` the latency histogram."""
    router = APIRouter()
    hub = service.hub

    @router.get("/health", tags=["status"])
    def health() -> dict:
        """Whether the server answers (no token needed)."""
        return {"status": "ok"}

    @router.get("/metrics", tags=["status"])
    def metrics() -> Response:
        """Prometheus metrics: each stream's FPS, latency, frames, faces, unknowns, dropped frames."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/api/about", tags=["status"])
    def about() -> dict:
        """The model, providers, threshold and number of people (read only)."""
        return service.about()

    @router.post("/api/recognize", tags=["photos"])
    async def recognize(file: Photo) -> dict:
        """Every face of an uploaded photo: its box (x, y, w, h), name or "unknown", and score."""
        started = time.perf_counter()
        _, image = await read_upload(file, "the photo")
        faces = await run_in_threadpool(service.recognize, image)
        requests.labels("recognize").observe(time.perf_counter() - started)
        return {"width": image.shape[1], "height": image.shape[0], "faces": faces}

    @router.post("/api/verify", tags=["photos"])
    async def verify(first: Photo, second: Photo) -> dict:
        """Whether two uploaded photos show the same person (the largest face of each)."""
        (_, one), (_, two) = await read_upload(first, "the first photo"), await read_upload(second, "the second photo")
        return await run_in_threadpool(service.verify, one, two)

    @router.get("/api/people", tags=["people"])
    def people() -> list[dict]:
        """Everyone enrolled, with how many images each."""
        return service.people.list()

    @router.post("/api/people", tags=["people"], status_code=201)
    async def enrol(name: Name, file: Photo) -> dict:
        """Enrol NAME from an uploaded photo (its largest face)."""
        data, image = await read_upload(file, "the photo")
        return await run_in_threadpool(service.enrol_photo, name, image, data, file.filename or "upload")

    @router.get("/api/people/face", tags=["people"])
    def face(name: str) -> Response:
        """The face NAME was enrolled from (JPEG), when the server enrolled them."""
        jpeg = service.people.face(name)
        if jpeg is None:
            return error(404, f"no enrolled face kept for {name!r}")
        return Response(jpeg, media_type="image/jpeg")

    @router.patch("/api/people/{name:path}", tags=["people"])
    def rename(name: str, change: Rename) -> dict:
        """Rename a person (onto someone enrolled already only with merge)."""
        return service.people.rename(name, change.name, change.merge)

    @router.delete("/api/people/{name:path}", tags=["people"])
    def remove(name: str) -> dict:
        """Forget a person and every image of them."""
        return service.people.remove(name)

    @router.get("/api/streams", tags=["streams"])
    def streams() -> list[dict]:
        """Every stream: state, frames, FPS, latency, faces, unknowns, dropped frames, viewers."""
        return [view.to_dict() for view in list(hub.views.values())]

    @router.get("/api/streams/{stream}/live.mjpg", tags=["streams"])
    async def live(stream: str) -> Response:
        """The stream's annotated frames as MJPEG (encoded only while watched, at most 10 a second)."""
        if stream not in hub.views:
            return error(404, f"no stream called {stream!r}")
        return StreamingResponse(_mjpeg(hub, stream), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    @router.get("/api/events", tags=["events"])
    def events(count: Count = 50) -> list[dict]:
        """The latest events (appearances), newest first."""
        return [event.to_dict() for event in hub.events.latest(count)]

    @router.get("/api/events/stream", tags=["events"])
    async def event_stream(request: Request, after: int | None = None) -> StreamingResponse:
        """Events as Server-Sent Events (`event: appearance`, JSON data): those after event AFTER (or
        Last-Event-ID), else from now on."""
        last = str(after) if after is not None else request.headers.get("last-event-id", "")
        latest = hub.events.latest(1)
        start = int(last) if last.isdigit() else (latest[0].id if latest else 0)
        return StreamingResponse(_sse(hub, start), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})  # fmt: skip

    @router.get("/api/events/{event_id}/thumbnail", tags=["events"])
    def thumbnail(event_id: int) -> Response:
        """The event's face, as a JPEG."""
        event = hub.events.get(event_id)
        if event is None:
            return error(404, f"no event {event_id} (only the latest are kept)")
        return Response(event.thumbnail, media_type="image/jpeg")

    @router.post("/api/events/{event_id}/enrol", tags=["events", "people"], status_code=201)
    def enrol_event(event_id: int, name: Name) -> dict:
        """ "This is NAME": enrol the face of a live event."""
        event = hub.events.get(event_id)
        if event is None or event.face is None:
            raise UploadError(f"no face kept for event {event_id} (only the latest live events are kept)", 404)
        return service.people.enrol_face(name, event.face, event.thumbnail, f"live:{event.stream}")

    return router


async def _mjpeg(hub, stream: str):
    """Multipart JPEG parts of the stream's newest frames, each once, while the client stays."""
    period, last = 1.0 / hub.max_rate, 0
    with hub.watching(stream):
        while True:
            started = time.perf_counter()
            encoded = await run_in_threadpool(hub.jpeg, stream)
            if encoded is not None and encoded[0] != last:
                last, jpeg = encoded
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                yield head.encode() + jpeg + b"\r\n"
            await asyncio.sleep(max(0.005, period - (time.perf_counter() - started)))


async def _sse(hub, last: int):
    """Each new event once, as `id`, `event: appearance` and JSON `data`; a comment now and then."""
    quiet = 0.0
    yield ": connected\n\n"
    while True:
        events = hub.events.since(last)
        for event in events:
            last = event.id
            yield f"id: {event.id}\nevent: appearance\ndata: {json.dumps(event.to_dict())}\n\n"
        quiet = 0.0 if events else quiet + SSE_POLL
        if quiet >= SSE_KEEPALIVE:
            quiet = 0.0
            yield ": still here\n\n"
        await asyncio.sleep(SSE_POLL)
