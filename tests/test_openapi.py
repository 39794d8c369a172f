"""The OpenAPI document: served, valid OpenAPI 3.1, in step with the app and with real answers.

The document is ``server/api/openapi.json``, written by hand. These tests keep it honest:
every route of the app is in it and everything in it is a route of the app; every example
fits its schema; and the answers of a real conference (REST, WHIP and the live channel)
fit the schemas, with no field the document does not name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from typing import Any

import aiohttp
import pytest
import socketio
from aiortc import RTCConfiguration, RTCPeerConnection
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from server.app import OPENAPI_FILE
from server.config import Settings

from .conftest import InProcess

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
        "CreateConferenceRequest", "CreateConferenceResponse",
    ):
        assert name in schemas
    assert set(doc["components"]["securitySchemes"]) == {"organizerToken", "participantToken"}
    live = doc["x-socketio"]
    assert live["namespace"] == "/live"
    assert set(live["serverEvents"]) == {
        "snapshot", "participant", "participant_removed", "conference",
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
    """No token: 401 exactly where the document asks for one; a wrong one: invalid_token."""
    for path, method, op in operations(doc):
        url = service.url + re.sub(r"{[^}]+}", NO_SUCH_ID, path)
        secured = bool(op.get("security", doc.get("security", [])))
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

    async def connect(self, url: str, namespace: str, token: str) -> None:
        for name in self.names:
            self.sio.on(name, self._handler(name), namespace=namespace)
        await self.sio.connect(
            url, namespaces=[namespace], auth={"token": token}, transports=["websocket"]
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

        # Hanging up, the report, ending.
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
        async with http.get(f"{url}{conferences}/{cid}/report", headers=guest) as r:
            await contract.check(r, f"{conference}/report", "get", 403)
        async with http.post(f"{url}{conferences}/{cid}/end", headers=organizer) as r:
            assert (await contract.check(r, f"{conference}/end", "post", 200))["state"] == "ended"
        async with http.get(f"{url}{conferences}/{cid}", headers=guest) as r:
            assert (await contract.check(r, conference, "get", 401))["error"] == "token_expired"
        async with http.get(f"{url}{conferences}/{NO_SUCH_ID}", headers=organizer) as r:
            await contract.check(r, conference, "get", 404)

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
