"""The device's page, rendered on the server (no build step; a few lines of inline script keep the
events and rates fresh): Live, Events and People, with the model's facts, readable on a phone.
Its forms post here and come back to the page, so it works without script too."""

from __future__ import annotations

import datetime
from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.serve.access import token_matches
from edge_runtime.serve.api import Name, Photo, read_upload
from edge_runtime.serve.events import Event
from edge_runtime.serve.guard import set_cookie
from edge_runtime.serve.service import Service

STYLE = """body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{background:#223;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:1em;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header a.here{text-decoration:underline}
main{padding:1em;max-width:1100px;margin:auto}.facts{font-size:.85em;color:#555;margin-bottom:1em}
.streams{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1em}
.stream img{width:100%;background:#000;min-height:120px}table{border-collapse:collapse;width:100%}
td,th{padding:.35em;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
img.face{height:64px;border-radius:4px}.unknown{color:#c22}.named{color:#282}
form{display:inline-flex;flex-wrap:wrap;gap:.3em;margin:.2em 0}input[type=text]{width:9em}
.said{background:#ffd;padding:.5em;border:1px solid #cc9;margin-bottom:1em}
@media (max-width:600px){main{padding:.5em}thead{display:none}td{border:0}
tr{display:flex;flex-wrap:wrap;align-items:center;border-bottom:1px solid #ddd}}"""
PAGES = (("/", "Live"), ("/events", "Events"), ("/people", "People"))


def login_page(wanted: str, wrong: bool) -> str:
    """The form that asks for the token and keeps it in an HttpOnly cookie."""
    said = '<p class="said">That token is not right.</p>' if wrong else ""
    return _page(
        "Log in",
        "",
        f"""{said}<p>This device's page needs its token.</p>
<form method="post" action="/login"><input type="hidden" name="then" value="{escape(wanted)}">
<input type="password" name="token" placeholder="token" autocomplete="current-password" required>
<button>Log in</button></form>""",
    )


def _page(title: str, here: str, body: str, facts: str = "", said: str = "") -> str:
    links = "".join(f'<a href="{p}" class="{"here" if p == here else ""}">{n}</a>' for p, n in PAGES)
    notice = f'<p class="said" id="said">{escape(said)}</p>' if said else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)} · siamese-edge</title>
<style>{STYLE}</style></head><body><header><strong>siamese-edge</strong>{links}</header>
<main><h1>{escape(title)}</h1>{notice}<div class="facts" id="facts">{facts}</div>{body}</main></body></html>"""


def _facts(service: Service) -> str:
    about = service.about()
    rates = ", ".join(f"{escape(v.name)} {v.to_dict()['fps']:.1f} FPS" for v in service.hub.views.values())
    return (f"model {escape(about['model'])} ({escape(about['arch'])}, {escape(about['precision'])}) · "
            f"provider {escape(', '.join(about['providers']))} · threshold {about['threshold']:.4f} · "
            f"{counted(about['people'], 'person', 'people')}"
            + (f" · <span id='rates'>{rates}</span>" if rates else ""))  # fmt: skip


ENROL_FORM = (
    '<form method="post" action="/events/ID/enrol"><input type="text" name="name" placeholder="this is…" '
    "required><button>Enrol</button></form>"
)


def _event_row(event: Event) -> str:
    when = datetime.datetime.fromtimestamp(event.time).strftime("%H:%M:%S")
    kind = "unknown" if event.name == "unknown" else "named"
    enrol = ENROL_FORM.replace("ID", str(event.id)) if event.face is not None else ""
    return (f'<tr data-id="{event.id}"><td><img class="face" src="/api/events/{event.id}/thumbnail" alt=""></td>'
            f'<td class="{kind}">{escape(event.name)}</td><td>{escape(event.stream)}</td><td>{when}</td>'
            f"<td>{enrol}</td></tr>")  # fmt: skip


EVENTS_SCRIPT = """<script>
const rows=document.getElementById('events');
const newest=rows.firstElementChild?rows.firstElementChild.dataset.id:0;
new EventSource('/api/events/stream?after='+newest).addEventListener('appearance',m=>{const e=JSON.parse(m.data);
const t=new Date(e.time*1000).toTimeString().slice(0,8),k=e.name==='unknown'?'unknown':'named';
const r=document.createElement('tr');r.dataset.id=e.id;
r.innerHTML=`<td><img class="face" src="${e.thumbnail}" alt=""></td><td class="${k}"></td><td></td><td>${t}</td>
<td><form method="post" action="/events/${e.id}/enrol"><input type="text" name="name" placeholder="this is…" required>
<button>Enrol</button></form></td>`;r.children[1].textContent=e.name;r.children[2].textContent=e.stream;
rows.prepend(r);});</script>"""


def page_router(service: Service, expected: str | None) -> APIRouter:
    """The page's routes: Live, Events, People, their forms, and the login form."""
    router = APIRouter(include_in_schema=False)
    hub, people = service.hub, service.people

    @router.get("/", response_class=HTMLResponse)
    def live(said: str = "") -> str:
        """Each stream's live view."""
        cells = "".join(_live_cell(name) for name in hub.views)
        body = f'<div class="streams">{cells}</div>' if cells else "<p>No camera: this server answers photos only.</p>"
        return _page("Live", "/", body, _facts(service), said)

    @router.get("/events", response_class=HTMLResponse)
    def events(said: str = "") -> str:
        """Recent appearances, updating by themselves."""
        rows = "".join(_event_row(e) for e in hub.events.latest())
        table = f'<table><thead><tr><th></th><th>who</th><th>stream</th><th>time</th><th></th></tr></thead>' \
                f'<tbody id="events">{rows}</tbody></table>'  # fmt: skip
        return _page("Events", "/events", table + EVENTS_SCRIPT, _facts(service), said)

    @router.get("/people", response_class=HTMLResponse)
    def people_page(said: str = "") -> str:
        """Everyone enrolled, enrolling from a photo, renaming and removing."""
        rows = "".join(_person_row(p["name"], p["images"]) for p in people.list())
        enrol = ('<h2>Enrol from a photo</h2><form method="post" action="/people" enctype="multipart/form-data">'
                 '<input type="text" name="name" placeholder="name" required>'
                 '<input type="file" name="file" accept="image/*" required><button>Enrol</button></form>'
                 "<p>Or name a face on the Events page.</p>")  # fmt: skip
        table = f'<table><tbody id="people">{rows}</tbody></table>' if rows else "<p>Nobody is enrolled yet.</p>"
        return _page("People", "/people", table + enrol, _facts(service), said)

    @router.post("/people")
    async def enrol(name: Name, file: Photo):
        """Enrol from the page's upload form."""
        try:
            data, image = await read_upload(file, file.filename or "the photo")
            await run_in_threadpool(service.enrol_photo, name, image, data, file.filename or "upload")
        except SiameseEdgeError as problem:
            return _back("/people", f"not enrolled: {problem}")
        return _back("/people", f"enrolled {name}")

    @router.post("/people/rename")
    def rename(old: Name, new: Name):
        """Rename from the page."""
        return _do("/people", f"renamed {old} to {new}", people.rename, old, new)

    @router.get("/people/remove", response_class=HTMLResponse, response_model=None)
    def confirm_removal(name: str):
        """The second step of Remove: say what goes, and ask again (no script needed)."""
        images = next((p["images"] for p in people.list() if p["name"] == name), None)
        if images is None:
            return _back("/people", f"nobody called {name} is enrolled")
        ask = (f"<p>Remove {escape(name)} and the {counted(images, 'image')} they were enrolled from? They are "
               'called unknown from then on.</p><form method="post" action="/people/remove">'
               f'<input type="hidden" name="name" value="{escape(name, quote=True)}">'
               f'<button id="confirm-removal">Remove {escape(name)}</button></form> '
               '<a href="/people">Keep them</a>')  # fmt: skip
        return _page("Remove a person", "/people", ask, _facts(service))

    @router.post("/people/remove")
    def remove(name: Name):
        """Remove from the page (the form of the confirmation step)."""
        return _do("/people", f"removed {name}", people.remove, name)

    @router.post("/events/{event_id}/enrol")
    def enrol_event(event_id: int, name: Name):
        """ "This is NAME" from the events page."""
        event = hub.events.get(event_id)
        if event is None or event.face is None:
            return _back("/events", f"event {event_id} is gone (only the latest are kept)")
        return _do("/events", f"enrolled {name}", people.enrol_face, name, event.face, event.thumbnail,
                   f"live:{event.stream}")  # fmt: skip

    @router.post("/login")
    def login(token: Annotated[str, Form()] = "", then: Annotated[str, Form()] = "/"):
        """Check the token and keep it in an HttpOnly cookie."""
        if expected is None:
            return RedirectResponse("/", status_code=303)
        if not token_matches(expected, token):
            return HTMLResponse(login_page(then, True), status_code=401)
        return set_cookie(RedirectResponse(then if then.startswith("/") and not then.startswith("//") else "/",
                                           status_code=303), expected)  # fmt: skip

    @router.get("/login", response_class=HTMLResponse)
    def login_form(then: str = "/") -> str:
        """The login form."""
        return login_page(then, False)

    return router


def _live_cell(name: str) -> str:
    return (
        f'<div class="stream"><h2>{escape(name)}</h2><img alt="live view of {escape(name)}" '
        f'src="/api/streams/{quote(name, safe="")}/live.mjpg"></div>'
    )


def _person_row(name: str, images: int) -> str:
    shown, field = escape(name), escape(name, quote=True)
    return (f'<tr><td><img class="face" src="/api/people/face?name={quote(name)}" alt="" '
            f"onerror=\"this.style.visibility='hidden'\"></td><td class=\"named\">{shown}</td><td>{images} image"
            f'{"s" if images != 1 else ""}</td><td><form method="post" action="/people/rename">'
            f'<input type="hidden" name="old" value="{field}"><input type="text" name="new" placeholder="new name" '
            f'required><button>Rename</button></form> <form method="get" action="/people/remove">'
            f'<input type="hidden" name="name" value="{field}"><button>Remove</button></form></td></tr>')  # fmt: skip


def _back(page: str, said: str) -> RedirectResponse:
    return RedirectResponse(f"{page}?said={quote(said)}", status_code=303)


def _do(page: str, said: str, action, *arguments) -> RedirectResponse:
    try:
        action(*arguments)
    except SiameseEdgeError as problem:
        return _back(page, f"not done: {problem}")
    return _back(page, said)
