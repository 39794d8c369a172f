"""The OpenAPI document: served, valid OpenAPI 3.1, in step with the app and with real answers.

The document is ``server/api/openapi.json``, written by hand. These tests keep it honest:
every route of the app is in it and everything in it is a route of the app; every example
fits its schema; and the answers of a real conference (REST, WHIP, the live channel and the
report with its costs), of its add-ons (greeting, recording) and of a registered organiser
(sign-up, session, API keys, phonebook, planning, messages, the monthly statement) fit the
schemas, with no field the document does not name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiortc import RTCConfiguration, RTCPeerConnection
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from yarl import URL

from server.api.auth import CSRF_HEADER, SAFE_METHODS
from server.api.routes import SERVICE
from server.app import OPENAPI_FILE
from server.config import Settings
from server.realtime import SESSION_COOKIE
from server.store import ChargeRecord

from .conftest import InProcess
from .support.audio import sine, write_wav

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_URI = "urn:telekonf:openapi"
OPENAPI_PATH = "/api/v1/openapi.json"
NO_SUCH_ID = "0000000000000000"


def load_document() -> dict[str, Any]:
    return dict(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))


def escape(segment: str) -> str:
    """One JSON-pointer segment (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


def pointer(*segments: str) -> str:
    return "".join("/" + escape(s) for s in segments)


class Contract:
    """Checks instances and live answers against the document's schemas."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry: Registry[Any] = Registry().with_resource(
            DOC_URI, DRAFT202012.create_resource(doc)
        )

    def resolve(self, node: dict[str, Any], where: str) -> tuple[dict[str, Any], str]:
        """Follow a Reference Object (``{"$ref": "#/components/..."}``) to what it names."""
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            where = ref[1:]
            node = self.doc
            for segment in where.split("/")[1:]:
                node = node[segment.replace("~1", "/").replace("~0", "~")]
        return node, where

    def validate(self, instance: Any, where: str, *, strict: bool = True) -> None:
        """Validate against the schema at JSON pointer ``where`` of the document.

        ``strict``: the instance may not have top-level properties the schema does not name
        (the schemas of objects that are extended, such as Conference, are open themselves).
        """
        schema: dict[str, Any] = {"$ref": f"{DOC_URI}#{where}"}
        if strict:
            schema["unevaluatedProperties"] = False
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{instance!r} does not fit {where}:\n" + "\n".join(
            f"- at {list(e.path)}: {e.message}" for e in errors
        )

    def operation(self, path: str, method: str) -> dict[str, Any]:
        return dict(self.doc["paths"][path][method])

    async def check(
        self, response: aiohttp.ClientResponse, path: str, method: str, status: int
    ) -> Any:
        """The answer has the status expected, documented, with its headers and body schema."""
        text = await response.text()
        assert response.status == status, f"{method.upper()} {path}: {response.status} {text}"
        responses = self.operation(path, method)["responses"]
        assert str(status) in responses, f"{method.upper()} {path}: {status} is not documented"
        documented, where = self.resolve(
            responses[str(status)], pointer("paths", path, method, "responses", str(status))
        )
        for name, header in documented.get("headers", {}).items():
            header, header_at = self.resolve(header, f"{where}/headers/{escape(name)}")
            if not header.get("required"):
                continue
            assert name in response.headers, f"{method.upper()} {path} {status}: no {name}"
            value: Any = response.headers[name]
            if header["schema"].get("type") == "integer":
                value = int(value)
            self.validate(value, f"{header_at}/schema")
        content = documented.get("content")
        if not content:
            assert text == "", f"{method.upper()} {path} {status}: unexpected body {text!r}"
            return None
        media = response.content_type
        assert media in content, f"{method.upper()} {path} {status}: {media} is not documented"
        body = json.loads(text) if media == "application/json" else text
        self.validate(body, f"{where}/content/{escape(media)}/schema")
        return body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two wrong PINs reach the limit here (5 by default), so the 429 comes quickly."""
    return dataclasses.replace(settings, pin_attempts=2)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return load_document()


@pytest.fixture(scope="module")
def contract(doc: dict[str, Any]) -> Contract:
    return Contract(doc)


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def needs_credentials(doc: dict[str, Any], op: dict[str, Any]) -> bool:
    """Some way of authenticating is required: there is a requirement, and none is empty."""
    requirements = op.get("security", doc.get("security", []))
    return bool(requirements) and {} not in requirements


# -- the document itself -------------------------------------------------------------------


async def test_the_document_is_served(service: InProcess) -> None:
    async with service.http.get(f"{service.url}{OPENAPI_PATH}") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        served = await response.json()
    assert re.fullmatch(r"3\.1\.\d+", served["openapi"])
    assert served == load_document()


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc, cls=OpenAPIV31SpecValidator)
    # Valid JSON with 2-space indentation; reformat with
    # python -c 'import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[1],"w").write(
    #   json.dumps(d, indent=2, ensure_ascii=False) + "\n")' server/api/openapi.json
    text = OPENAPI_FILE.read_text(encoding="utf-8")
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_the_reusable_schemas_are_there(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in (
        "Conference", "Participant", "Report", "Error", "JoinRequest", "JoinResponse",
        "CreateConferenceRequest", "CreateConferenceResponse", "Notification",
        "User", "Account", "Session", "ApiKey", "NewApiKey", "Contact", "ContactImportResult",
        "CsvRowError", "InviteeContact", "NotifyRequest", "NotifyResponse", "DevSms",
        "Costs", "ChargeLine", "Statement", "StatementConference", "StatementLine",
    ):
        assert name in schemas
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {
        "organizerToken", "participantToken", "apiKey", "sessionCookie", "csrfToken",
    }
    assert schemes["sessionCookie"]["name"] == SESSION_COOKIE
    assert schemes["csrfToken"]["name"] == CSRF_HEADER
    # A session cookie needs its CSRF token exactly on the requests that change something.
    for path, method, op in operations(doc):
        for requirement in op.get("security", doc.get("security", [])):
            assert set(requirement) <= set(schemes), f"{method.upper()} {path}: {requirement}"
            if "sessionCookie" in requirement:
                needs_csrf = method.upper() not in SAFE_METHODS
                assert ("csrfToken" in requirement) == needs_csrf, f"{method.upper()} {path}"
    live = doc["x-socketio"]
    assert live["namespace"] == "/live"
    assert set(live["serverEvents"]) == {
        "snapshot", "participant", "participant_removed", "conference", "notification",
    }


def test_every_example_fits_its_schema(doc: dict[str, Any], contract: Contract) -> None:
    checked = 0
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            contract.validate(example, pointer("components", "schemas", name))
            checked += 1

    def walk(node: Any, where: str) -> None:
        nonlocal checked
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}/{i}")
            return
        if not isinstance(node, dict):
            return
        if "schema" in node and isinstance(node["schema"], dict):
            # A media type, parameter or header object: its examples fit its schema.
            examples = [node["example"]] if "example" in node else []
            for key, example in node.get("examples", {}).items():
                example, _ = contract.resolve(example, f"{where}/examples/{escape(key)}")
                examples.append(example["value"])
            for example in examples:
                contract.validate(example, f"{where}/schema")
                checked += 1
        for key, value in node.items():
            if key != "schema":
                walk(value, f"{where}/{escape(key)}")

    walk(doc["paths"], "/paths")
    walk(doc["components"]["responses"], "/components/responses")
    walk(doc["components"]["parameters"], "/components/parameters")
    walk(doc["components"]["headers"], "/components/headers")
    assert checked > 50


# -- the document and the app's routes -------------------------------------------------------


async def test_the_routes_and_the_document_agree(service: InProcess, doc: dict[str, Any]) -> None:
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in service.app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and (route.resource.canonical.startswith("/api/") or route.resource.canonical == "/healthz")
    }
    documented = {(method, path) for path, method, _ in operations(doc)}
    undocumented = routes - documented - {("get", OPENAPI_PATH)}
    assert not undocumented, f"routes missing from openapi.json: {sorted(undocumented)}"
    missing = documented - routes
    assert not missing, f"openapi.json documents operations the app lacks: {sorted(missing)}"

    contract = Contract(doc)
    for path, item in doc["paths"].items():
        in_template = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            if method not in METHODS:
                continue
            declared = set()
            for i, param in enumerate(item.get("parameters", []) + op.get("parameters", [])):
                param, _ = contract.resolve(param, f"/paths/{escape(path)}/parameters/{i}")
                if param["in"] == "path":
                    declared.add(param["name"])
            assert declared == in_template, f"{method.upper()} {path}: path parameters {declared}"


async def test_tokens_are_needed_where_documented(
    service: InProcess, doc: dict[str, Any], contract: Contract
) -> None:
    """No credentials: 401 exactly where the document asks for some; a wrong token:
    invalid_token. (Where credentials are optional, ``{}`` among the requirements, none is
    fine.)"""
    for path, method, op in operations(doc):
        url = service.url + re.sub(r"{[^}]+}", NO_SUCH_ID, path)
        secured = needs_credentials(doc, op)
        async with service.http.request(method.upper(), url) as response:
            if secured:
                body = await contract.check(response, path, method, 401)
                assert body["error"] == "unauthorized"
            else:
                assert response.status != 401, f"{method.upper()} {path} needs no token"
                assert str(response.status) in op["responses"], (
                    f"{method.upper()} {path}: {response.status} is not documented"
                )
        if secured:
            async with service.http.request(method.upper(), url, headers=auth("nope")) as response:
                body = await contract.check(response, path, method, 401)
                assert body["error"] == "invalid_token"


# -- real answers ------------------------------------------------------------------------------


class LiveEvents:
    def __init__(self, events: list[str]) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.seen: list[tuple[str, Any]] = []
        self.names = events
        self.arrived = asyncio.Event()

    async def connect(
        self, url: str, namespace: str, token: str | None = None, *,
        conference_id: str | None = None, cookie: str | None = None,
    ) -> None:
        """With a conference token, or with a session cookie and the conference's id."""
        for name in self.names:
            self.sio.on(name, self._handler(name), namespace=namespace)
        payload = {"token": token} if token is not None else {"conference_id": conference_id}
        await self.sio.connect(
            url, namespaces=[namespace], auth=payload, transports=["websocket"],
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {},
        )

    def _handler(self, name: str) -> Any:
        async def handle(data: Any) -> None:
            self.seen.append((name, data))
            self.arrived.set()

        return handle

    async def wait_for(self, name: str, match: Any = lambda d: True) -> None:
        async with asyncio.timeout(10):
            while True:
                self.arrived.clear()
                if any(n == name and match(d) for n, d in self.seen):
                    return
                await self.arrived.wait()


async def test_a_conference_answers_as_documented(
    service: InProcess, doc: dict[str, Any], contract: Contract
) -> None:
    http, url = service.http, service.url
    conferences = "/api/v1/conferences"
    conference = f"{conferences}/{{id}}"
    participant = f"{conference}/participants/{{pid}}"

    async with http.get(f"{url}/healthz") as r:
        await contract.check(r, "/healthz", "get", 200)
    async with http.get(f"{url}/api/v1/stats") as r:
        await contract.check(r, "/api/v1/stats", "get", 200)

    # Creating: a body the document allows; a missing title is an `invalid` naming the field.
    request = {
        "title": "  Weekly   sync ",
        "organizer": {"name": "Olga", "email": "olga@example.org", "phone": "+386 40 123 456"},
        "participants": [{"name": "Peter", "phone": "+49 30 901820"}],
        "starts_at": "2030-01-07T10:00:00+01:00",
        "language": "de",
    }
    contract.validate(request, "/components/schemas/CreateConferenceRequest", strict=False)
    async with http.post(f"{url}{conferences}", json=request) as r:
        conf = await contract.check(r, conferences, "post", 201)
        assert r.headers["Location"] == conf["api_url"]
    assert conf["title"] == "Weekly sync" and conf["language"] == "de"
    assert conf["organizer"]["phone"] == "+38640123456"
    assert conf["starts_at"] == "2030-01-07T09:00:00Z"
    assert [p["state"] for p in conf["participants"]] == ["invited"]
    async with http.post(f"{url}{conferences}", json={"organizer": request["organizer"]}) as r:
        error = await contract.check(r, conferences, "post", 400)
        assert error == {"error": "invalid", "message": "title: is required", "field": "title"}

    cid = conf["id"]
    organizer = auth(conf["organizer_token"])
    async with http.get(f"{url}{conferences}/{cid}", headers=organizer) as r:
        view = await contract.check(r, conference, "get", 200)
    assert view["moderator_pin"] == conf["moderator_pin"]
    assert view["organizer"]["email"] == "olga@example.org"

    live = LiveEvents(list(doc["x-socketio"]["serverEvents"]))
    await live.connect(url, doc["x-socketio"]["namespace"], conf["organizer_token"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        # Joining with the PIN (spaces are ignored); the participant's view of the conference.
        join = {"pin": conf["pin"][:4] + " " + conf["pin"][4:], "name": "Pia"}
        contract.validate(join, "/components/schemas/JoinRequest", strict=False)
        async with http.post(f"{url}/api/v1/join", json=join) as r:
            joined = await contract.check(r, "/api/v1/join", "post", 200)
        assert joined["conference_id"] == cid and joined["role"] == "participant"
        pid = joined["participant_id"]
        guest = auth(joined["participant_token"])
        async with http.get(f"{url}{conferences}/{cid}", headers=guest) as r:
            view = await contract.check(r, conference, "get", 200)
        assert "moderator_pin" not in view and view["organizer"] == {"name": "Olga"}
        async with http.patch(f"{url}/api/v1/me", json={"muted": True}, headers=guest) as r:
            await contract.check(r, "/api/v1/me", "patch", 404)  # not connected yet

        # WHIP (RFC 9725).
        whip = "/api/v1/webrtc"
        async with http.options(f"{url}{whip}") as r:
            await contract.check(r, whip, "options", 204)
        sdp = {"Content-Type": "application/sdp"}
        async with http.post(f"{url}{whip}", data="v=0\r\n", headers=organizer | sdp) as r:
            assert (await contract.check(r, whip, "post", 403))["error"] == "forbidden"
        async with http.post(f"{url}{whip}", json={"sdp": "v=0"}, headers=guest) as r:
            await contract.check(r, whip, "post", 415)
        async with http.post(f"{url}{whip}", data="hello", headers=guest | sdp) as r:
            assert (await contract.check(r, whip, "post", 400))["error"] == "bad_sdp"
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        async with http.post(f"{url}{whip}", data=offer, headers=guest | sdp) as r:
            answer = await contract.check(r, whip, "post", 201)
            location = r.headers["Location"]
        assert answer.startswith("v=0") and location == f"{whip}/{pid}"
        async with http.post(f"{url}{whip}", data=offer, headers=guest | sdp) as r:
            assert (await contract.check(r, whip, "post", 409))["error"] == "already_connected"
        async with http.patch(f"{url}{location}", data="a=end-of-candidates", headers=guest) as r:
            error = await contract.check(r, f"{whip}/{{session}}", "patch", 405)
            assert error["error"] == "trickle_not_supported"

        # Muting: oneself, by the organiser, everyone.
        async with http.patch(f"{url}/api/v1/me", json={"muted": True}, headers=guest) as r:
            me = await contract.check(r, "/api/v1/me", "patch", 200)
        assert me["id"] == pid and me["muted"] and me["state"] == "muted" and me["mode"] == "web"
        async with http.patch(f"{url}/api/v1/me", json={"muted": True}, headers=organizer) as r:
            await contract.check(r, "/api/v1/me", "patch", 403)
        async with http.patch(
            f"{url}{conferences}/{cid}/participants/{pid}", json={"muted": False}, headers=organizer
        ) as r:
            assert not (await contract.check(r, participant, "patch", 200))["muted"]
        async with http.patch(
            f"{url}{conferences}/{cid}/participants/{pid}", json={"muted": "no"}, headers=organizer
        ) as r:
            assert (await contract.check(r, participant, "patch", 400))["field"] == "muted"
        async with http.patch(
            f"{url}{conferences}/{cid}/participants/{pid}", json={"muted": True}, headers=guest
        ) as r:
            await contract.check(r, participant, "patch", 403)
        async with http.post(
            f"{url}{conferences}/{cid}/mute", json={"muted": True}, headers=organizer
        ) as r:
            assert await contract.check(r, f"{conference}/mute", "post", 200) == {
                "muted": True, "changed": 1,
            }

        # Hanging up, the report, ending. The leg lasts a second at least: a leg that rounds
        # to 0 s costs nothing, and the report's costs would stay null.
        await asyncio.sleep(1)
        async with http.delete(f"{url}{location}", headers=guest) as r:
            await contract.check(r, f"{whip}/{{session}}", "delete", 200)
        async with http.delete(f"{url}{location}", headers=guest) as r:
            await contract.check(r, f"{whip}/{{session}}", "delete", 404)
        async with http.delete(
            f"{url}{conferences}/{cid}/participants/{pid}", headers=organizer
        ) as r:
            assert (await contract.check(r, participant, "delete", 409))["error"] == "not_present"
        async with http.get(f"{url}{conferences}/{cid}/report", headers=organizer) as r:
            report = await contract.check(r, f"{conference}/report", "get", 200)
        [session] = next(p for p in report["participants"] if p["id"] == pid)["sessions"]
        assert session["mode"] == "web" and session["left_reason"] == "left"
        assert session["access_number"] is None and session["access_mode"] is None
        assert report["costs"] is None  # not before the conference has ended
        async with http.get(f"{url}{conferences}/{cid}/report", headers=guest) as r:
            await contract.check(r, f"{conference}/report", "get", 403)
        async with http.post(f"{url}{conferences}/{cid}/end", headers=organizer) as r:
            assert (await contract.check(r, f"{conference}/end", "post", 200))["state"] == "ended"
        async with http.get(f"{url}{conferences}/{cid}", headers=guest) as r:
            assert (await contract.check(r, conference, "get", 401))["error"] == "token_expired"
        async with http.get(f"{url}{conferences}/{NO_SUCH_ID}", headers=organizer) as r:
            await contract.check(r, conference, "get", 404)

        # Ended and empty: priced in the background (the finished hook), then in the report.
        async with asyncio.timeout(10):
            while True:
                async with http.get(f"{url}{conferences}/{cid}/report", headers=organizer) as r:
                    report = await contract.check(r, f"{conference}/report", "get", 200)
                if report["costs"] is not None:
                    break
                await asyncio.sleep(0.05)
        costs = report["costs"]
        [line] = costs["lines"]
        assert (line["participant_id"], line["payer"], line["item"], line["unit"]) == (
            pid, "organizer", "fee", "second",
        )
        assert line["quantity"] >= 1 and costs["total_organizer"] == line["amount"]
        assert costs["total_caller"] == "0.00"

        # What the live channel said, against the events of x-socketio.
        await live.wait_for("conference", lambda d: d["state"] == "ended")
    finally:
        await pc.close()
        await live.sio.disconnect()
    names = [name for name, _ in live.seen]
    assert names[0] == "snapshot" and {"participant", "conference"} <= set(names)
    for name, payload in live.seen:
        contract.validate(payload, pointer("x-socketio", "serverEvents", name, "payload"))


async def test_the_live_channel_refuses_a_wrong_token(
    service: InProcess, doc: dict[str, Any]
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            service.url, namespaces=[doc["x-socketio"]["namespace"]], auth={"token": "nope"},
            transports=["websocket"],
        )
    await client.disconnect()


async def test_wrong_pins_are_refused_then_limited(
    service: InProcess, contract: Contract
) -> None:
    conf = await service.create_conference()
    for _ in range(2):  # the limit is 2 here (see the settings fixture)
        async with service.http.post(
            f"{service.url}/api/v1/join", json={"pin": "00000000", "name": "Mallory"}
        ) as r:
            error = await contract.check(r, "/api/v1/join", "post", 403)
            assert error["error"] == "wrong_pin"
    # Now even the right PIN waits.
    async with service.http.post(
        f"{service.url}/api/v1/join", json={"pin": conf["pin"], "name": "Mallory"}
    ) as r:
        error = await contract.check(r, "/api/v1/join", "post", 429)
        assert error["error"] == "too_many_attempts"
        assert int(r.headers["Retry-After"]) == error["retry_after"] >= 1


# -- add-ons -----------------------------------------------------------------------------------


async def test_the_add_ons_answer_as_documented(
    service: InProcess, contract: Contract, tmp_path: Path
) -> None:
    """The greeting: set, refused, removed; recording refused before the conference runs. (A
    whole recording needs WebRTC participants: tests/integration/test_addons.py.)"""
    conference = "/api/v1/conferences/{id}"
    greeting = f"{conference}/greeting"
    recording = f"{conference}/recording"
    conf = await service.create_conference()
    organizer = auth(conf["organizer_token"])

    async def call(
        method: str, template: str, status: int, *, headers: dict[str, str] = organizer,
        **kwargs: Any,
    ) -> Any:
        path = template.format(id=conf["id"])
        async with service.http.request(
            method, service.url + path, headers=headers, **kwargs
        ) as r:
            return await contract.check(r, template, method.lower(), status)

    # The file itself is the body, whatever its content type says.
    media = contract.operation(greeting, "put")["requestBody"]["content"]
    assert {"application/octet-stream", "audio/*"} <= set(media)
    wav = write_wav(tmp_path / "greeting.wav", sine(440, 2.0)).read_bytes()
    answer = await call("PUT", greeting, 200, data=wav,
                        headers=organizer | {"Content-Type": "audio/wav"})
    assert answer["greeting"]["seconds"] == pytest.approx(2.0, abs=0.3)
    view = await call("GET", conference, 200)
    assert (view["greeting"], view["recording"], view["recorded_seconds"]) == (True, False, 0)

    # Refused: nothing is stored, the greeting set before stays.
    error = await call("PUT", greeting, 400, data=b"this is not audio at all " * 40,
                       headers=organizer | {"Content-Type": "application/octet-stream"})
    assert error["error"] == "not_audio"
    assert (await call("GET", conference, 200))["greeting"] is True

    # Participants see whether the room is recorded, nothing else of the add-ons.
    async with service.http.post(
        f"{service.url}/api/v1/join", json={"pin": conf["pin"], "name": "Pia"}
    ) as r:
        joined = await contract.check(r, "/api/v1/join", "post", 200)
    guest = auth(joined["participant_token"])
    view = await call("GET", conference, 200, headers=guest)
    assert view["recording"] is False and "greeting" not in view
    assert "recorded_seconds" not in view
    assert (await call("PUT", greeting, 403, data=wav, headers=guest))["error"] == "forbidden"
    assert (await call("GET", recording, 403, headers=guest))["error"] == "forbidden"

    # Removed; then there is none to remove.
    await call("DELETE", greeting, 204)
    assert (await call("DELETE", greeting, 404))["error"] == "not_found"
    assert (await call("GET", conference, 200))["greeting"] is False

    # Recording needs a running conference (no organiser has joined); nothing to download.
    error = await call("POST", recording, 409, json={"recording": True})
    assert error["error"] == "not_active"
    error = await call("POST", recording, 409, json={"recording": False})
    assert error["error"] == "not_recording"
    error = await call("POST", recording, 400, json={"recording": "yes"})
    assert error["field"] == "recording"
    assert (await call("GET", recording, 404))["error"] == "not_found"
    assert (await call("GET", conference, 200))["recording"] is False

    # Over: no greeting any more.
    await call("POST", f"{conference}/cancel", 200)
    error = await call("PUT", greeting, 409, data=wav)
    assert error["error"] == "conference_ended"


# -- a registered organiser ------------------------------------------------------------------

PASSWORD = "correct horse battery"
BROKEN_CSV = (
    "Name;E-Mail;Telefon;Sprache\n"
    "Pia Novak;pia@example.org;+386 40 123 456;sl\n"
    "Hans;hans@example;;de\n"
    ";nobody@example.org;;\n"
).encode("utf-8-sig")
GOOD_CSV = (
    b"Name;E-Mail;Telefon;Sprache\n"
    b"Hans Maier;hans@example.org;;de\n"
    b"Ana;;+386 41 234 567;sl\n"
)


async def test_a_registered_organiser_answers_as_documented(
    service: InProcess, doc: dict[str, Any], contract: Contract
) -> None:
    """Sign-up, session, API keys, phonebook, a conference planned while logged in, its
    messages (e-mail stays queued: no SMTP server here; SMS go to the development sink) and
    the live channel opened with the session cookie."""
    url = service.url
    anonymous = service.http  # its cookie jar takes no cookies from 127.0.0.1
    conference = "/api/v1/conferences/{id}"
    contact_path = "/api/v1/contacts/{contact}"

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        csrf: dict[str, str] = {}

        async def call(
            method: str, template: str, status: int, *, http: aiohttp.ClientSession = browser,
            at: dict[str, str] | None = None, headers: dict[str, str] | None = None,
            **kwargs: Any,
        ) -> Any:
            """A request to ``template`` (a documented path) filled in with ``at``; by default
            from the browser, with its CSRF token."""
            path = template.format(**(at or {}))
            sent = (csrf if http is browser else {}) | (headers or {})
            async with http.request(method.upper(), url + path, headers=sent, **kwargs) as r:
                return await contract.check(r, template, method.lower(), status)

        # Signing up logs in: the session cookie, and the CSRF token in the answer.
        request: dict[str, Any] = {
            "company": "Acme d.o.o.", "name": "Olga", "email": "olga@example.org",
            "password": PASSWORD, "language": "sl",
        }
        contract.validate(request, "/components/schemas/SignUpRequest", strict=False)
        session = await call("POST", "/api/v1/accounts", 201, json=request)
        user = session["user"]
        assert user["role"] == "owner" and user["account"]["company"] == "Acme d.o.o."
        assert SESSION_COOKIE in browser.cookie_jar.filter_cookies(URL(url))
        csrf[CSRF_HEADER] = session["csrf_token"]
        error = await call(
            "POST", "/api/v1/accounts", 409, http=anonymous,
            json=request | {"email": "OLGA@example.org"},
        )
        assert error["error"] == "email_taken" and error["field"] == "email"
        error = await call(
            "POST", "/api/v1/accounts", 400, http=anonymous,
            json=request | {"email": "ana@example.org", "password": "short"},
        )
        assert error["field"] == "password"
        await call("POST", "/api/v1/accounts", 415, http=anonymous, data=request)
        assert await call("GET", "/api/v1/session", 200) == session

        # Logging in elsewhere, by user number.
        login = {"login": user["user_number"], "password": PASSWORD}
        contract.validate(login, "/components/schemas/LogInRequest", strict=False)
        assert (await call("POST", "/api/v1/session", 200, http=anonymous, json=login))[
            "user"]["id"] == user["id"]
        error = await call(
            "POST", "/api/v1/session", 401, http=anonymous, json=login | {"password": "wrong!"}
        )
        assert error["error"] == "bad_credentials"

        # API keys: the key itself only once.
        error = await call("POST", "/api/v1/api-keys", 403, json={"name": "CRM"},
                           headers={CSRF_HEADER: "forged"})
        assert error["error"] == "csrf"
        key = await call("POST", "/api/v1/api-keys", 201, json={"name": "CRM"})
        assert key["key"].startswith("tk_") and key["prefix"] == key["key"][:10]
        keys = await call("GET", "/api/v1/api-keys", 200)
        assert [k["id"] for k in keys] == [key["id"]]
        for listed_key in keys:  # ApiKey is open (NewApiKey extends it): no field unnamed
            contract.validate(listed_key, "/components/schemas/ApiKey")
        api = auth(key["key"])

        # The phonebook.
        new_contact = {"name": "Pia Novak", "email": "pia@example.org", "phone": "+386 40 123 456",
                       "language": "sl"}
        contract.validate(new_contact, "/components/schemas/NewContact", strict=False)
        pia = await call("POST", "/api/v1/contacts", 201, json=new_contact)
        assert pia["phone"] == "+38640123456" and pia["organisation"] is None
        error = await call("POST", "/api/v1/contacts", 400, json={"name": "Nobody"})
        assert error["field"] == "email"
        assert await call("GET", "/api/v1/contacts", 200) == [pia]
        assert await call("GET", "/api/v1/contacts", 200, params={"q": "040 123"}) == [pia]
        assert await call("GET", contact_path, 200, at={"contact": pia["id"]}) == pia
        changed = await call("PATCH", contact_path, 200, at={"contact": pia["id"]},
                             json={"organisation": "Acme d.o.o."})
        assert changed == pia | {"organisation": "Acme d.o.o."}
        await call("GET", contact_path, 404, at={"contact": NO_SUCH_ID})
        csv_type = {"Content-Type": "text/csv"}
        error = await call("POST", "/api/v1/contacts/import", 422, data=BROKEN_CSV,
                           headers=csv_type)
        assert error["error"] == "invalid_csv"
        assert [(r["row"], r["field"]) for r in error["rows"]] == [(3, "email"), (4, "name")]
        assert await call("POST", "/api/v1/contacts/import", 200, data=GOOD_CSV,
                          headers=csv_type) == {"imported": 2}
        exported = await call("GET", "/api/v1/contacts/export", 200)
        assert exported.startswith("\ufeffname,email,phone,language,organisation\r\n")
        contacts = await call("GET", "/api/v1/contacts", 200, http=anonymous, headers=api)
        assert len(contacts) == 3
        ana = next(c for c in contacts if c["name"] == "Ana")
        await call("DELETE", contact_path, 204, at={"contact": ana["id"]})

        # A conference created while logged in: no organizer block needed, and it is Olga's.
        request = {
            "title": "Board", "starts_at": "2030-01-07T13:00:00Z", "duration_minutes": 90,
            "time_zone": "Europe/Ljubljana",
            "participants": [{"name": "Hans", "email": "hans@example.org", "language": "de"}],
        }
        contract.validate(request, "/components/schemas/CreateConferenceRequest", strict=False)
        conf = await call("POST", "/api/v1/conferences", 201, json=request)
        cid = conf["id"]
        at = {"id": cid}
        assert conf["organizer"] == {"name": "Olga", "email": "olga@example.org", "phone": None}
        assert conf["duration_minutes"] == 90 and conf["time_zone"] == "Europe/Ljubljana"
        assert conf["language"] == "sl" and conf["participants"][0]["language"] == "de"
        error = await call("POST", "/api/v1/conferences", 403, json=request,
                           headers={CSRF_HEADER: "forged"})
        assert error["error"] == "csrf"
        error = await call("POST", "/api/v1/conferences", 400, json=request | {
            "participants": [{"name": "Nobody", "phone": "12ab"}],
        })
        assert error["field"] == "participants[0].phone"
        listed = await call("GET", "/api/v1/conferences", 200)
        assert [c["id"] for c in listed] == [cid]
        assert await call("GET", "/api/v1/conferences", 200, http=anonymous, headers=api) == listed
        await call("GET", "/api/v1/conferences", 403, http=anonymous,
                   headers=auth(conf["organizer_token"]))
        view = await call("GET", conference, 200, at=at)
        assert view["moderator_pin"] == conf["moderator_pin"]

        # The live channel, opened with the session cookie.
        cookie = browser.cookie_jar.filter_cookies(URL(url))[SESSION_COOKIE].value
        live = LiveEvents(list(doc["x-socketio"]["serverEvents"]))
        await live.connect(url, doc["x-socketio"]["namespace"], conference_id=cid, cookie=cookie)
        try:
            # The list: from the phonebook and typed in; nobody twice.
            people = [{"name": "Tel Only", "phone": "+386 41 987 654"}]
            body = {"contact_ids": [pia["id"], pia["id"]], "people": people}
            contract.validate(body, "/components/schemas/AddInviteesRequest", strict=False)
            added = await call("POST", f"{conference}/invitees", 201, at=at, json=body)
            assert [(p["name"], p["language"]) for p in added["participants"]] == [
                ("Pia Novak", "sl"), ("Tel Only", None),
            ]
            assert (await call("POST", f"{conference}/invitees", 201, at=at, json=body)) == {
                "participants": [],
            }
            error = await call("POST", f"{conference}/invitees", 403, http=anonymous, at=at,
                               json=body, headers=auth(conf["organizer_token"]))
            assert error["error"] == "forbidden"
            error = await call("POST", f"{conference}/invitees", 400, at=at, json={})
            assert error["field"] == "people"

            # Invitations: to those never invited who have an e-mail address (Pia).
            sent = await call("POST", f"{conference}/invitations", 202, at=at, json={})
            assert [n["name"] for n in sent["notifications"]] == ["Pia Novak"]
            error = await call("POST", f"{conference}/invitations", 404, at=at,
                               json={"participant_ids": [NO_SUCH_ID]})
            assert error["error"] == "not_found"

            # A notice by e-mail and SMS: queued where there is an address, skipped elsewhere.
            notice = {"message": "We start 10 minutes late.\nSorry!", "channels": ["email", "sms"]}
            contract.validate(notice, "/components/schemas/NotifyRequest", strict=False)
            told = await call("POST", f"{conference}/notify", 202, at=at, json=notice)
            lines = {(n["name"], n["channel"]): n for n in told["notifications"]}
            assert set(lines) == {
                (name, channel) for name in ("Hans", "Pia Novak", "Tel Only")
                for channel in ("email", "sms")
            }
            assert lines[("Hans", "sms")]["state"] == "skipped"
            assert "id" not in lines[("Tel Only", "email")]
            assert lines[("Pia Novak", "email")]["kind"] == "notice"
            error = await call("POST", f"{conference}/notify", 400, at=at,
                               json=notice | {"channels": ["fax"]})
            assert error["field"] == "channels"

            # Moved: an updated invitation to everyone invited, and the news live.
            moved = await call("PATCH", conference, 200, at=at, json={
                "title": "Board meeting", "starts_at": "2030-01-08T08:30:00+01:00",
                "duration_minutes": 60,
            })
            assert moved["starts_at"] == "2030-01-08T07:30:00Z"
            assert moved["duration_minutes"] == 60 and moved["time_zone"] == "Europe/Ljubljana"
            error = await call("PATCH", conference, 400, at=at, json={"duration_minutes": 0})
            assert error["field"] == "duration_minutes"
            await live.wait_for("conference", lambda d: d.get("title") == "Board meeting")

            # The SMS reach the development sink; e-mail stays queued without a mail server.
            numbers = ["+38640123456", "+38641987654"]
            for number in numbers:
                await live.wait_for("notification", lambda d, number=number: (
                    d["recipient"] == number and d["state"] == "sent"
                ))
            sms = await call("GET", "/api/v1/dev/sms", 200)
            assert sorted(m["to"] for m in sms) == numbers
            assert all(m["encoding"] == "GSM-7" and m["segments"] == 1 for m in sms)
            listed = await call("GET", f"{conference}/notifications", 200, at=at)
            assert {n["kind"] for n in listed} == {"invitation", "invitation-organizer", "notice"}
            assert all(isinstance(n["id"], int) for n in listed)
            assert {n["state"] for n in listed if n["channel"] == "email"} == {"queued"}
            assert await call(
                "GET", f"{conference}/notifications", 200, http=anonymous, at=at,
                headers=auth(conf["organizer_token"]),
            ) == await call("GET", f"{conference}/notifications", 200, at=at)

            # Cancelled before it started; then it is too late for anything.
            cancelled = await call("POST", f"{conference}/cancel", 200, at=at)
            assert cancelled["state"] == "ended" and cancelled["pin"] is None
            error = await call("POST", f"{conference}/cancel", 409, at=at)
            assert error["error"] == "conference_ended"
            error = await call("PATCH", conference, 409, at=at, json={"title": "Again"})
            assert error["error"] == "conference_ended"
            await live.wait_for("conference", lambda d: d["state"] == "ended")
        finally:
            await live.sio.disconnect()
        names = {name for name, _ in live.seen}
        assert {"snapshot", "participant", "conference", "notification"} <= names
        for name, payload in live.seen:
            contract.validate(payload, pointer("x-socketio", "serverEvents", name, "payload"))

        # Its charges (as frozen when a conference ends; this one had nobody to charge), in
        # its report and in the account's statement of the month, as JSON and as CSV.
        priced = datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
        hans = conf["participants"][0]["id"]
        pia_there, tel_only = (p["id"] for p in added["participants"])

        def charge(
            participant_id: str | None, payer: str, item: str, quantity: int, unit: str,
            unit_price: str, amount: str, detail: str = "",
        ) -> ChargeRecord:
            return ChargeRecord(
                conference_id=cid, account_id=user["account"]["id"],
                participant_id=participant_id, payer=payer, item=item, quantity=quantity,
                unit=unit, unit_price=Decimal(unit_price), amount=Decimal(amount),
                currency="EUR", detail=detail, at=priced,
            )

        await service.app[SERVICE].store.add_charges(cid, [
            charge(hans, "organizer", "fee", 125, "second", "0.010", "0.02",
                   "web fee, registered"),
            charge(pia_there, "organizer", "fee", 90, "second", "0.025", "0.04",
                   "dial-out fee, registered"),
            charge(pia_there, "organizer", "call", 90, "second", "0.060", "0.09", "SI mobile"),
            charge(tel_only, "caller", "premium", 125, "second", "0.49", "1.02",
                   "premium access number"),
            charge(None, "organizer", "addon:custom_welcome", 1, "each", "5.00", "5.00"),
        ])
        report = await call("GET", f"{conference}/report", 200, at=at)
        assert report["costs"] is not None
        assert (report["costs"]["total_organizer"], report["costs"]["total_caller"]) == (
            "5.15", "1.02",
        )
        statement = "/api/v1/account/statements/{month}"
        month = {"month": "2030-01"}
        view = await call("GET", statement, 200, at=month)
        assert view["account"] == user["account"] and view["currency"] == "EUR"
        assert (view["total_organizer"], view["total_caller"]) == ("5.15", "1.02")
        [entry] = view["conferences"]
        assert entry["id"] == cid and entry["title"] == "Board meeting"
        assert [line["participant"] for line in entry["lines"]] == [
            "Hans", "Pia Novak", "Pia Novak", "Tel Only", "",
        ]
        assert await call("GET", statement, 200, at=month, http=anonymous, headers=api) == view
        empty = await call("GET", statement, 200, at={"month": "2029-12"})
        assert empty["conferences"] == [] and empty["currency"] is None
        async with browser.get(f"{url}/api/v1/account/statements/2030-01",
                               params={"format": "csv"}) as r:
            text = await contract.check(r, statement, "get", 200)
            disposition = r.headers["Content-Disposition"]
        contract.validate(disposition, pointer(
            "paths", statement, "get", "responses", "200", "headers", "Content-Disposition",
            "schema",
        ))
        assert disposition == 'attachment; filename="statement-2030-01.csv"'
        rows = text.splitlines()
        assert rows[0] == (
            "\ufeffconference_id,conference,ended_at,participant,payer,item,quantity,unit,"
            "unit_price,amount,currency,detail"
        )
        assert len(rows) == 6 and rows[-1].startswith(f"{cid},Board meeting,")
        error = await call("GET", statement, 400, at={"month": "01-2030"})
        assert error["field"] == "month"
        error = await call("GET", statement, 403, at=month, http=anonymous,
                           headers=auth(conf["organizer_token"]))
        assert error["error"] == "forbidden"

        # The account's organisers.
        igor = await call("POST", "/api/v1/account/organizers", 201, json={
            "name": "Igor", "email": "igor@example.org", "language": "de",
        })
        assert igor["role"] == "organizer" and "account" not in igor
        organizers = await call("GET", "/api/v1/account/organizers", 200)
        assert sorted(o["name"] for o in organizers) == ["Igor", "Olga"]

        # Revoking a key.
        await call("DELETE", "/api/v1/api-keys/{key}", 204, at={"key": key["id"]})
        await call("DELETE", "/api/v1/api-keys/{key}", 404, at={"key": key["id"]})
        error = await call("GET", "/api/v1/api-keys", 401, http=anonymous, headers=api)
        assert error["error"] == "invalid_token"

        # Mail that says the same whoever asks.
        for address in ("olga@example.org", "nobody@example.org"):
            assert await call("POST", "/api/v1/password-reset", 202, http=anonymous,
                              json={"email": address}) == {"sent": True}
        error = await call("POST", "/api/v1/password-reset/confirm", 400, http=anonymous,
                           json={"token": "no such token", "password": "a much better one"})
        assert error["error"] == "invalid_token"

        # Logging out needs the CSRF token too; afterwards there is no session.
        error = await call("DELETE", "/api/v1/session", 403, headers={CSRF_HEADER: ""})
        assert error["error"] == "csrf"
        await call("DELETE", "/api/v1/session", 204)
        assert (await call("GET", "/api/v1/session", 401))["error"] == "unauthorized"

    # Throttles last: they hold for this client address from now on.
    for _ in range(3):
        await call_anonymously(service, contract, "POST", "/api/v1/organizer-link", 202,
                               json={"email": "olga@example.org"})
    error = await call_anonymously(service, contract, "POST", "/api/v1/organizer-link", 429,
                                   json={"email": "olga@example.org"})
    assert error["error"] == "too_many_requests" and error["retry_after"] >= 1
    for attempt in range(4):  # with the wrong password above, five: the limit
        await call_anonymously(service, contract, "POST", "/api/v1/session", 401, json={
            "login": "olga@example.org", "password": f"guess {attempt}",
        })
    error = await call_anonymously(service, contract, "POST", "/api/v1/session", 429, json={
        "login": "olga@example.org", "password": PASSWORD,
    })
    assert error["error"] == "too_many_attempts"


async def call_anonymously(
    service: InProcess, contract: Contract, method: str, path: str, status: int, **kwargs: Any
) -> Any:
    async with service.http.request(method, service.url + path, **kwargs) as r:
        return await contract.check(r, path, method.lower(), status)
