"""The application factory: HTTP API, pages, Socket.IO and the media engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from gateway.media import RtpPortPool
from gateway.transport import SipTransports
from gateway.ua import SipGateway

from .accounts.service import AccountService
from .addons import AddOns
from .api.account_routes import routes as account_routes
from .api.auth import ACCOUNTS
from .api.errors import json_errors
from .api.routes import ADDONS, PLANNER, SERVICE, routes
from .billing import load_tariffs
from .config import Settings
from .heartbeat import Heartbeat
from .media.engine import MediaEngine
from .media.messages import MediaEvent
from .media.prompts import PromptLibrary
from .notify.outbox import Outbox
from .notify.sms import provider_from_url
from .notify.sms.dev import DevSmsProvider
from .notify.sms.provider import SmsProvider
from .notify.sms.segments import count_segments
from .notify.smtp import SmtpTransport
from .planning import ConferencePlanner
from .realtime import LiveBroadcaster, LiveNamespace, create_sio
from .reports import Reporter
from .service import ConferenceService
from .store.sqlite import SqliteStore

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
VENDOR_FILES = {
    "socket.io.min.js": ROOT / "node_modules/socket.io-client/dist/socket.io.min.js",
    "socket.io.min.js.map": ROOT / "node_modules/socket.io-client/dist/socket.io.min.js.map",
    # libphonenumber-js's self-contained "max" build: validates as strictly as phonenumbers.
    "libphonenumber-max.js": ROOT / "node_modules/libphonenumber-js/bundle/libphonenumber-max.js",
    "libphonenumber-max.js.map": (
        ROOT / "node_modules/libphonenumber-js/bundle/libphonenumber-max.js.map"
    ),
}
OPENAPI_FILE = Path(__file__).resolve().parent / "api" / "openapi.json"

SETTINGS = web.AppKey("settings", Settings)
GATEWAY = web.AppKey("gateway", SipGateway)
ENGINE = web.AppKey("engine", MediaEngine)
SMS = web.AppKey("sms", SmsProvider)


def _page(name: str) -> web.Response | web.FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


#: page paths and their files under static/
PAGES = {
    "/": "index.html",
    "/join": "join.html",
    "/organizer/{id}": "organizer.html",
    "/signup": "signup.html",
    "/login": "login.html",
    "/reset": "reset.html",
    "/account": "account.html",
    "/contacts": "contacts.html",
    "/dev/sms": "dev-sms.html",
}


def _page_handler(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page(name)

    return handler


def _local_only(request: web.Request) -> None:
    remote = request.remote or ""
    if not (remote.startswith("127.") or remote == "::1"):
        raise web.HTTPForbidden(reason="served to local clients only")


async def _dev_sms(request: web.Request) -> web.Response:
    """The development SMS sink's messages (no real SMS provider configured)."""
    _local_only(request)
    sms = request.app[SMS]
    if not isinstance(sms, DevSmsProvider):
        raise web.HTTPNotFound(reason="a real SMS provider is configured")
    settings = request.app[SETTINGS]
    host = urlsplit(settings.base_url).hostname or ""
    if settings.sms_url != "dev" and host not in ("localhost", "::1") and not host.startswith(
        "127."
    ):
        # A deployment (public URL) behind a local reverse proxy would look local here:
        # its messages (PINs, say) are shown only when the sink is asked for by name.
        raise web.HTTPNotFound(reason="set TELEKONF_SMS_URL=dev to see the development sink")
    answer = []
    for m in reversed(sms.sent):
        parts = count_segments(m.text)
        answer.append({
            "to": m.to, "text": m.text, "at": m.at.isoformat(),
            "encoding": parts.encoding, "segments": parts.segments,
        })
    return web.json_response(answer)


def sms_provider(settings: Settings) -> SmsProvider:
    return provider_from_url(
        settings.sms_url, sender=settings.sms_sender, http_method=settings.sms_http_method,
        http_auth=settings.sms_http_auth or None,
        http_content_type=settings.sms_http_content_type,
        http_template=settings.sms_http_template, http_id_path=settings.sms_http_id_path or None,
    )


async def _vendor(request: web.Request) -> web.StreamResponse:
    path = VENDOR_FILES.get(request.match_info["name"])
    if path is None or not path.is_file():
        raise web.HTTPNotFound(reason="run `npm ci` to install the browser libraries")
    return web.FileResponse(path)


async def _stats(request: web.Request) -> web.Response:
    # Operational figures for the operator's monitoring, not for the public.
    _local_only(request)
    return web.json_response(request.app[ENGINE].stats())


async def _openapi(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(OPENAPI_FILE, headers={"Content-Type": "application/json"})


def create_app(settings: Settings) -> web.Application:
    from .media.webrtc import offer_ice_addresses

    app = web.Application(middlewares=[json_errors], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    offer_ice_addresses(settings.ice_addresses)

    sio = create_sio()
    sio.attach(app)
    # The service exists once the app starts; until then no notice is sent anyway.
    broadcaster = LiveBroadcaster(
        sio, lambda cid: app[SERVICE].phones_hidden(cid) if SERVICE in app else True
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        from aiortc import RTCIceServer

        from .media.webrtc import WebRtcPort

        store = SqliteStore(settings.database_path)
        await store.open()
        ice = [RTCIceServer(urls=list(settings.stun_servers))] if settings.stun_servers else []
        if settings.turn_servers:
            ice.append(
                RTCIceServer(
                    urls=list(settings.turn_servers),
                    username=settings.turn_username,
                    credential=settings.turn_password,
                )
            )
        rtp_host = settings.rtp_host or settings.sip_host
        rtp_ports = RtpPortPool(rtp_host, settings.rtp_port_min, settings.rtp_port_max)
        engine = MediaEngine(
            PromptLibrary.load(),
            max_speakers=settings.mix_max_speakers,
            webrtc_port_factory=lambda on_state: WebRtcPort(ice, on_state),
            rtp_port_factory=rtp_ports,
        )
        engine.tick_hooks.append(rtp_ports.tick)
        service = ConferenceService(settings, store, engine.request)
        transport = SmtpTransport.from_url(settings.smtp_url) if settings.smtp_url else None
        sms = sms_provider(settings)
        app[SMS] = sms
        outbox = Outbox(store, transport, mail_from=settings.mail_from, sms=sms)
        service.outbox = outbox
        app[PLANNER] = ConferencePlanner(service, outbox)
        reporter = Reporter(
            store, outbox, load_tariffs(Path(settings.tariffs) if settings.tariffs else None),
            now=service.now, load=service.loaded, account_of=service.account_of,
            page_url=lambda cid: f"{settings.base_url}/organizer/{cid}",
        )
        service.reporter = reporter
        addons = AddOns(service, settings.data_dir)
        app[ADDONS] = addons
        service.finished_hooks.append(reporter.conference_finished)
        heartbeat = Heartbeat(store, service.now, settings.heartbeat_seconds)
        app[ACCOUNTS] = AccountService(
            store, base_url=settings.base_url, region=settings.default_region or None,
            outbox=outbox, now=service.now,
        )
        gateway = SipGateway(
            service,
            engine.request,
            contact_host=settings.sip_host,
            contact_port=settings.sip_port,
            rtp_host=rtp_host,
            numbers=service.access_numbers,
            language=settings.default_language,
            max_calls=settings.sip_max_calls,
            max_unjoined=settings.sip_max_pin_prompt,
        )

        if settings.sip_trunk:
            gateway.configure_trunk(
                settings.sip_trunk,
                username=settings.sip_trunk_username,
                password=settings.sip_trunk_password,
                caller_id=settings.caller_id,
                ring_timeout=settings.ring_timeout,
                register=settings.sip_trunk_register,
            )
            service.dialer = gateway

        def media_event(event: MediaEvent) -> None:
            service.on_media_event(event)
            gateway.on_media_event(event)

        engine.on_event = media_event
        service.subscribe(broadcaster)
        sio.register_namespace(LiveNamespace(service, app[ACCOUNTS]))
        app[SERVICE] = service
        app[ENGINE] = engine
        app[GATEWAY] = gateway
        await service.recover()
        await addons.restore_greetings()
        await reporter.catch_up()
        heartbeat.start()
        await outbox.start()
        sip = SipTransports(gateway, settings.sip_host, settings.sip_port)
        await sip.start()
        await gateway.start()
        engine.start()
        broadcaster.start()
        logger.info(
            "Telekonf ready on %s, SIP on %s:%d", settings.base_url, settings.sip_host, sip.port
        )
        yield
        await gateway.stop()
        await sip.stop()
        await broadcaster.stop()
        await engine.stop()
        await outbox.stop()
        await sms.close()
        await service.close()
        await heartbeat.stop()
        await store.close()

    app.cleanup_ctx.append(lifecycle)

    async def shutdown_sio(app: web.Application) -> None:
        await sio.shutdown()

    app.on_shutdown.append(shutdown_sio)
    app.add_routes(routes)
    app.add_routes(account_routes)
    app.router.add_get("/api/v1/openapi.json", _openapi)
    app.router.add_get("/api/v1/stats", _stats)
    app.router.add_get("/api/v1/dev/sms", _dev_sms)
    for path, name in PAGES.items():
        app.router.add_get(path, _page_handler(name))
    app.router.add_get("/static/vendor/{name}", _vendor)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    return app
