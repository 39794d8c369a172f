"""REST API v1 and WHIP signalling (RFC 9725)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..service import ConferenceService, Principal, ServiceError
from . import validation as v
from .errors import error_response, read_json

SERVICE = web.AppKey("service", ConferenceService)
MAX_SDP_BYTES = 64 * 1024
MAX_INVITEES = 500

routes = web.RouteTableDef()


def _service(request: web.Request) -> ConferenceService:
    return request.app[SERVICE]


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(401, "unauthorized", "an Authorization: Bearer token is required")
    return token.strip()


async def _principal(request: web.Request) -> Principal:
    return await _service(request).authenticate(_bearer(request))


def _client_key(request: web.Request) -> str:
    return f"ip:{request.remote or 'unknown'}"


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/api/v1/dial-in-numbers")
async def dial_in_numbers(request: web.Request) -> web.Response:
    numbers = _service(request).access_numbers
    return web.json_response([n.view() for n in numbers])


@routes.post("/api/v1/conferences")
async def create_conference(request: web.Request) -> web.Response:
    service = _service(request)
    body = await read_json(request)
    region = service.settings.default_region
    title = v.text(body, "title") or ""
    organizer = v.contact(body.get("organizer"), "organizer.", region=region, email_required=True)
    raw_participants = body.get("participants", [])
    if not isinstance(raw_participants, list):
        raise v.invalid("participants", "must be a list")
    if len(raw_participants) > MAX_INVITEES:
        raise v.invalid("participants", f"at most {MAX_INVITEES} participants")
    invitees = [
        v.contact(item, f"participants[{i}].", region=region, email_required=False)
        for i, item in enumerate(raw_participants)
    ]
    view, token = await service.create(
        title=title,
        organizer=organizer,
        invitees=invitees,
        starts_at=v.timestamp(body, "starts_at"),
        language=v.language(body, service.settings.default_language),
    )
    base = service.settings.base_url
    view.update(
        organizer_token=token,
        organizer_url=service.organizer_url(view["id"], token),
        api_url=f"{base}/api/v1/conferences/{view['id']}",
    )
    return web.json_response(view, status=201, headers={"Location": view["api_url"]})


@routes.get("/api/v1/conferences/{id}")
async def get_conference(request: web.Request) -> web.Response:
    principal = await _principal(request)
    return web.json_response(await _service(request).view(principal, request.match_info["id"]))


@routes.patch("/api/v1/conferences/{id}/participants/{pid}")
async def patch_participant(request: web.Request) -> web.Response:
    principal = await _principal(request)
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
    principal = await _principal(request)
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
    principal = await _principal(request)
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
    principal = await _principal(request)
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
    principal = await _principal(request)
    conference_id = request.match_info["id"]
    service.require_organizer(principal, conference_id)
    body = await read_json(request, limit=4096)
    locked = await service.set_locked(principal, conference_id, v.boolean(body, "locked"))
    return web.json_response({"locked": locked})


@routes.delete("/api/v1/conferences/{id}/participants/{pid}")
async def remove_participant(request: web.Request) -> web.Response:
    principal = await _principal(request)
    await _service(request).remove(principal, request.match_info["id"], request.match_info["pid"])
    return web.Response(status=204)


@routes.post("/api/v1/conferences/{id}/mute")
async def mute_all(request: web.Request) -> web.Response:
    principal = await _principal(request)
    conference_id = request.match_info["id"]
    _service(request).require_organizer(principal, conference_id)
    body = await read_json(request)
    muted = v.boolean(body, "muted")
    changed = await _service(request).mute_all(principal, conference_id, muted)
    return web.json_response({"muted": muted, "changed": changed})


@routes.post("/api/v1/conferences/{id}/end")
async def end_conference(request: web.Request) -> web.Response:
    principal = await _principal(request)
    return web.json_response(await _service(request).end(principal, request.match_info["id"]))


@routes.get("/api/v1/conferences/{id}/report")
async def report(request: web.Request) -> web.Response:
    principal = await _principal(request)
    return web.json_response(await _service(request).report(principal, request.match_info["id"]))


@routes.get("/api/v1/conferences/{id}/notifications")
async def notifications(request: web.Request) -> web.Response:
    principal = await _principal(request)
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
        "".join(pin.split()), name, _client_key(request)
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
    principal = await _principal(request)
    if principal.participant_id is None:
        raise ServiceError(403, "forbidden", "only a joined participant can do this")
    body = await read_json(request, limit=4096)
    view = await _service(request).set_muted(
        principal, principal.conference_id, principal.participant_id, v.boolean(body, "muted")
    )
    return web.json_response(view)


@routes.post("/api/v1/webrtc")
async def whip_offer(request: web.Request) -> web.Response:
    principal = await _principal(request)
    if request.content_type != "application/sdp":
        raise ServiceError(415, "unsupported_media_type", "the offer must be application/sdp")
    if request.content_length is not None and request.content_length > MAX_SDP_BYTES:
        raise ServiceError(413, "too_large", "the SDP offer is too large")
    raw = await request.content.read(MAX_SDP_BYTES + 1)
    if len(raw) > MAX_SDP_BYTES:
        raise ServiceError(413, "too_large", "the SDP offer is too large")
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
    principal = await _principal(request)
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
