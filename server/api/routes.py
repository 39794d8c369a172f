"""REST API v1 and WHIP signalling (RFC 9725)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..addons import MAX_GREETING_BYTES, AddOns
from ..conference import Contact
from ..planning import CHANNELS, MAX_MESSAGE, ConferencePlanner, Invitee
from ..service import ConferenceService, ServiceError
from ..views import iso
from . import validation as v
from .auth import (
    ACCOUNTS,
    SERVICE,
    client_key,
    conference_principal,
    optional_caller,
    token_principal,
    user,
)
from .errors import error_response, read_body, read_json

PLANNER = web.AppKey("planner", ConferencePlanner)
ADDONS = web.AppKey("addons", AddOns)
MAX_SDP_BYTES = 64 * 1024
MAX_INVITEES = 500

routes = web.RouteTableDef()

__all__ = ["ADDONS", "PLANNER", "SERVICE", "routes"]


def _service(request: web.Request) -> ConferenceService:
    return request.app[SERVICE]


def _planner(request: web.Request) -> ConferencePlanner:
    return request.app[PLANNER]


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/api/v1/dial-in-numbers")
async def dial_in_numbers(request: web.Request) -> web.Response:
    numbers = _service(request).access_numbers
    return web.json_response([n.view() for n in numbers])


def _invitee(item: Any, path: str, region: str | None, *, need_address: bool = True) -> Invitee:
    person = v.contact(item, path, region=region, email_required=False)
    if need_address and person.email is None and person.phone is None:
        raise v.invalid(path.rstrip("."), "needs an e-mail address or a phone number")
    language = item.get("language") if isinstance(item, dict) else None
    if language is not None and language not in v.LANGUAGES:
        raise v.invalid(f"{path}language", f"must be one of {', '.join(v.LANGUAGES)}")
    return Invitee(person.name, person.email, person.phone, language)


@routes.post("/api/v1/conferences")
async def create_conference(request: web.Request) -> web.Response:
    service = _service(request)
    # Anyone may create one; a logged-in organiser (session or API key) owns it.
    found = await optional_caller(request)
    owner = found.user if found is not None else None
    body = await read_json(request)
    region = service.settings.default_region
    title = v.text(body, "title") or ""
    raw_organizer = body.get("organizer")
    if raw_organizer is None and owner is not None:
        raw_organizer = {"name": owner.name, "email": owner.email}
    organizer = v.contact(raw_organizer, "organizer.", region=region, email_required=True)
    raw_participants = body.get("participants", [])
    if not isinstance(raw_participants, list):
        raise v.invalid("participants", "must be a list")
    if len(raw_participants) > MAX_INVITEES:
        raise v.invalid("participants", f"at most {MAX_INVITEES} participants")
    invitees = [
        # A name alone is allowed here (the contract since the first version): such a
        # person joins with the PIN passed on by the organiser.
        _invitee(item, f"participants[{i}].", region, need_address=False)
        for i, item in enumerate(raw_participants)
    ]
    view, token = await service.create(
        title=title,
        organizer=organizer,
        invitees=[Contact(i.name, i.email, i.phone) for i in invitees],
        invitee_languages=[i.language for i in invitees],
        starts_at=v.timestamp(body, "starts_at"),
        language=v.language(body, owner.language if owner else service.settings.default_language),
        owner_user_id=owner.id if owner is not None else None,
        duration_minutes=v.minutes(body, "duration_minutes"),
        time_zone=v.time_zone(body, "time_zone"),
        hide_phone_numbers=v.optional_boolean(body, "hide_phone_numbers", default=True),
    )
    base = service.settings.base_url
    view.update(
        organizer_token=token,
        organizer_url=service.organizer_url(view["id"], token),
        api_url=f"{base}/api/v1/conferences/{view['id']}",
    )
    return web.json_response(view, status=201, headers={"Location": view["api_url"]})


@routes.get("/api/v1/conferences")
async def list_conferences(request: web.Request) -> web.Response:
    """A registered organiser's own conferences, newest first."""
    me = await user(request)
    summaries = await _service(request).store.conferences_of_user(me.id)
    base = _service(request).settings.base_url
    return web.json_response([
        {
            "id": c.id, "title": c.title, "state": c.state,
            "created_at": iso(c.created_at), "starts_at": iso(c.starts_at),
            "ended_at": iso(c.ended_at), "organizer_url": f"{base}/organizer/{c.id}",
        }
        for c in summaries
    ])


@routes.patch("/api/v1/conferences/{id}")
async def patch_conference(request: web.Request) -> web.Response:
    """A new title or time; everyone invited gets an updated invitation."""
    principal = await conference_principal(request)
    body = await read_json(request, limit=8192)
    changes: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = v.text(body, "title") or ""
    if "starts_at" in body:
        changes["starts_at"] = v.timestamp(body, "starts_at")
    if "duration_minutes" in body:
        changes["duration_minutes"] = v.minutes(body, "duration_minutes")
    if "time_zone" in body:
        changes["time_zone"] = v.time_zone(body, "time_zone")
    if "hide_phone_numbers" in body:
        changes["hide_phone_numbers"] = v.boolean(body, "hide_phone_numbers")
    view = await _planner(request).update(principal, request.match_info["id"], changes)
    return web.json_response(view)


@routes.post("/api/v1/conferences/{id}/cancel")
async def cancel_conference(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    view = await _planner(request).cancel(principal, request.match_info["id"])
    return web.json_response(view)


@routes.post("/api/v1/conferences/{id}/invitees")
async def add_invitees(request: web.Request) -> web.Response:
    """Put people on the conference's list (from the phonebook or typed in); no call, no mail."""
    principal = await conference_principal(request)
    conference_id = request.match_info["id"]
    body = await read_json(request, limit=256 * 1024)
    region = _service(request).settings.default_region
    people: list[Invitee] = []
    contact_ids = v.id_list(body, "contact_ids") or []
    if contact_ids:
        found = await optional_caller(request)
        if found is None or found.user is None:
            raise ServiceError(403, "forbidden", "contact_ids need a registered organiser")
        accounts = request.app[ACCOUNTS]
        for contact_id in contact_ids:
            c = await accounts.contact(found.user, contact_id)
            people.append(Invitee(c.name, c.email, c.phone, c.language))
    raw_people = body.get("people", [])
    if not isinstance(raw_people, list) or len(raw_people) > MAX_INVITEES:
        raise v.invalid("people", f"must be a list of at most {MAX_INVITEES}")
    people += [_invitee(item, f"people[{i}].", region) for i, item in enumerate(raw_people)]
    if not people:
        raise v.invalid("people", "name at least one person (people or contact_ids)")
    added = await _planner(request).add_invitees(principal, conference_id, people)
    return web.json_response({"participants": added}, status=201)


@routes.post("/api/v1/conferences/{id}/invitations")
async def send_invitations(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    body = await read_json(request, limit=64 * 1024)
    sent = await _planner(request).invite(
        principal, request.match_info["id"], v.id_list(body, "participant_ids")
    )
    return web.json_response({"notifications": sent}, status=202)


@routes.post("/api/v1/conferences/{id}/notify")
async def notify(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    body = await read_json(request, limit=64 * 1024)
    message = v.message(body, "message", max_length=MAX_MESSAGE)
    channels = body.get("channels")
    if (
        not isinstance(channels, list) or not channels
        or not all(c in CHANNELS for c in channels)
    ):
        raise v.invalid("channels", "must be a non-empty list of \"email\" and/or \"sms\"")
    sent = await _planner(request).notify(
        principal, request.match_info["id"], message=message,
        channels=list(dict.fromkeys(channels)),
        participant_ids=v.id_list(body, "participant_ids"),
    )
    return web.json_response({"notifications": sent}, status=202)


@routes.post("/api/v1/organizer-link")
async def resend_organizer_link(request: web.Request) -> web.Response:
    """Lost the organiser link? It is mailed again, only ever to the organiser's address."""
    body = await read_json(request, limit=4096)
    email = v.email(body, "email", required=True) or ""
    await _planner(request).resend_organizer_links(email, client_key(request))
    return web.json_response({"sent": True}, status=202)


@routes.get("/api/v1/conferences/{id}")
async def get_conference(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    return web.json_response(await _service(request).view(principal, request.match_info["id"]))


@routes.patch("/api/v1/conferences/{id}/participants/{pid}")
async def patch_participant(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    conference_id, pid = request.match_info["id"], request.match_info["pid"]
    _service(request).require_organizer(principal, conference_id)
    body = await read_json(request)
    muted = v.boolean(body, "muted")
    view = await _service(request).set_muted(principal, conference_id, pid, muted)
    return web.json_response(view)


@routes.post("/api/v1/conferences/{id}/participants")
async def add_participant(request: web.Request) -> web.Response:
    """Dial-out: call someone into the conference."""
    service = _service(request)
    principal = await conference_principal(request)
    conference_id = request.match_info["id"]
    service.require_organizer(principal, conference_id)
    body = await read_json(request, limit=4096)
    name = v.text(body, "name", max_length=100) or ""
    phone = v.phone(body, "phone", region=service.settings.default_region)
    if phone is None:
        raise v.invalid("phone", "is required")
    view = await service.dial_out(principal, conference_id, name, phone)
    return web.json_response(view, status=201)


@routes.post("/api/v1/conferences/{id}/participants/{pid}/call")
async def call_again(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    participant = await _service(request).call_again(
        principal, request.match_info["id"], request.match_info["pid"]
    )
    # A leg that never connected is replaced: the page drops the old card.
    return web.json_response(
        {"calling": True, "replaces": request.match_info["pid"], "participant": participant},
        status=202,
    )


@routes.post("/api/v1/conferences/{id}/start")
async def start_conference(request: web.Request) -> web.Response:
    service = _service(request)
    principal = await conference_principal(request)
    conference_id = request.match_info["id"]
    service.require_organizer(principal, conference_id)
    body = await read_json(request, limit=4096)
    dial_out = body.get("dial_out", False)
    if not isinstance(dial_out, bool):
        raise v.invalid("dial_out", "must be true or false")
    await service.start(principal, conference_id, dial_out)
    return web.json_response({"dial_out": dial_out}, status=202)


@routes.post("/api/v1/conferences/{id}/lock")
async def lock_conference(request: web.Request) -> web.Response:
    service = _service(request)
    principal = await conference_principal(request)
    conference_id = request.match_info["id"]
    service.require_organizer(principal, conference_id)
    body = await read_json(request, limit=4096)
    locked = await service.set_locked(principal, conference_id, v.boolean(body, "locked"))
    return web.json_response({"locked": locked})


@routes.delete("/api/v1/conferences/{id}/participants/{pid}")
async def remove_participant(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    await _service(request).remove(principal, request.match_info["id"], request.match_info["pid"])
    return web.Response(status=204)


@routes.post("/api/v1/conferences/{id}/mute")
async def mute_all(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    conference_id = request.match_info["id"]
    _service(request).require_organizer(principal, conference_id)
    body = await read_json(request)
    muted = v.boolean(body, "muted")
    changed = await _service(request).mute_all(principal, conference_id, muted)
    return web.json_response({"muted": muted, "changed": changed})


@routes.post("/api/v1/conferences/{id}/end")
async def end_conference(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    return web.json_response(await _service(request).end(principal, request.match_info["id"]))


@routes.get("/api/v1/conferences/{id}/report")
async def report(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    return web.json_response(await _service(request).report(principal, request.match_info["id"]))


@routes.get("/api/v1/conferences/{id}/notifications")
async def notifications(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    answer = await _service(request).notifications(principal, request.match_info["id"])
    return web.json_response(answer)


@routes.post("/api/v1/join")
async def join(request: web.Request) -> web.Response:
    service = _service(request)
    body = await read_json(request, limit=4096)
    pin = body.get("pin")
    if pin is None or pin == "":
        raise v.invalid("pin", "is required")
    if not isinstance(pin, str):
        # A number would lose a PIN's leading zeros.
        raise v.invalid("pin", "must be a string of digits")
    name = v.text(body, "name", max_length=100) or ""
    answer: dict[str, Any] = await service.join(
        "".join(pin.split()), name, client_key(request)
    )
    answer["ice_servers"] = ice_servers(service)
    return web.json_response(answer)


def ice_servers(service: ConferenceService) -> list[dict[str, Any]]:
    s = service.settings
    servers: list[dict[str, Any]] = [{"urls": list(s.stun_servers)}] if s.stun_servers else []
    if s.turn_servers:
        servers.append(
            {"urls": list(s.turn_servers), "username": s.turn_username,
             "credential": s.turn_password}
        )
    return servers


@routes.patch("/api/v1/me")
async def patch_me(request: web.Request) -> web.Response:
    """A participant mutes or unmutes themselves."""
    principal = await token_principal(request)
    if principal.participant_id is None:
        raise ServiceError(403, "forbidden", "only a joined participant can do this")
    body = await read_json(request, limit=4096)
    view = await _service(request).set_muted(
        principal, principal.conference_id, principal.participant_id, v.boolean(body, "muted")
    )
    return web.json_response(view)


@routes.post("/api/v1/webrtc")
async def whip_offer(request: web.Request) -> web.Response:
    principal = await token_principal(request)
    if request.content_type != "application/sdp":
        raise ServiceError(415, "unsupported_media_type", "the offer must be application/sdp")
    raw = await read_body(request, MAX_SDP_BYTES, "the SDP offer")
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError(400, "bad_sdp", "the SDP offer is not UTF-8 text") from None
    if not offer.startswith("v=0"):
        raise ServiceError(400, "bad_sdp", "the body is not an SDP offer (it must start with v=0)")
    answer, session_id = await _service(request).connect_webrtc(principal, offer)
    location = f"/api/v1/webrtc/{session_id}"
    return web.Response(
        status=201,
        body=answer.encode("utf-8"),
        content_type="application/sdp",
        headers={"Location": location},
    )


@routes.delete("/api/v1/webrtc/{session}")
async def whip_delete(request: web.Request) -> web.Response:
    principal = await token_principal(request)
    await _service(request).hang_up(principal, request.match_info["session"])
    return web.Response(status=200)


@routes.patch("/api/v1/webrtc/{session}")
async def whip_patch(request: web.Request) -> web.Response:
    # Offers must carry all their candidates (non-trickle); ICE restarts are not offered.
    return error_response(
        405, "trickle_not_supported", "send a complete offer instead", {"Allow": "DELETE"}
    )


@routes.options("/api/v1/webrtc")
async def whip_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Accept-Post": "application/sdp"})


# -- add-ons: the organiser's own greeting, recording ------------------------------------


@routes.put("/api/v1/conferences/{id}/greeting")
async def put_greeting(request: web.Request) -> web.Response:
    """The organiser's own welcome announcement: any common audio format, up to 10 MB."""
    principal = await conference_principal(request)
    data = await read_body(request, MAX_GREETING_BYTES, "the file")
    answer = await request.app[ADDONS].set_greeting(principal, request.match_info["id"], data)
    return web.json_response(answer)


@routes.delete("/api/v1/conferences/{id}/greeting")
async def delete_greeting(request: web.Request) -> web.Response:
    principal = await conference_principal(request)
    await request.app[ADDONS].remove_greeting(principal, request.match_info["id"])
    return web.Response(status=204)


@routes.post("/api/v1/conferences/{id}/recording")
async def set_recording(request: web.Request) -> web.Response:
    """``{"recording": true}`` starts (everyone hears a notice), ``false`` stops."""
    principal = await conference_principal(request)
    body = await read_json(request, limit=4096)
    answer = await request.app[ADDONS].set_recording(
        principal, request.match_info["id"], v.boolean(body, "recording")
    )
    return web.json_response(answer)


@routes.get("/api/v1/conferences/{id}/recording")
async def get_recording(request: web.Request) -> web.StreamResponse:
    """The recording as Ogg/Opus, for the organiser only."""
    principal = await conference_principal(request)
    live = await _service(request).loaded(request.match_info["id"])
    path = request.app[ADDONS].recording_file(principal, live.conference)
    if not path.is_file():
        raise ServiceError(404, "not_found", "the recording file is missing")
    return web.FileResponse(path, headers={
        "Content-Type": "audio/ogg",
        "Content-Disposition": f'attachment; filename="recording-{live.conference.id}.ogg"',
        "Cache-Control": "private, no-store",
    })
