"""Dial-out to a trunk that asks for digest credentials (401, qop=auth), answering in PCMA.

(SIPp's verifyauth reads only the Authorization header, so the trunk here
challenges with 401; a 407 is answered the same way with Proxy-Authorization.)"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from server.config import Settings

from ..conftest import InProcess, free_port
from ..support.client import Participant, wait_until
from .conftest import SCENARIOS, require, run

TRUNK_PORT = free_port()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0,
        sip_trunk=f"sip:127.0.0.1:{TRUNK_PORT}", sip_trunk_username="bridge",
        sip_trunk_password="s3cret",
    )


async def test_digest_challenge_is_answered(service: InProcess, tmp_path: Path) -> None:
    shutil.copy(SCENARIOS / "uas_auth.xml", tmp_path)
    trunk = asyncio.ensure_future(run(
        require("sipp"), "-sf", "uas_auth.xml", "-i", "127.0.0.1", "-p", str(TRUNK_PORT),
        "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", "30s",
        cwd=tmp_path, limit=35,
    ))
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "Trunk user", "phone": "+442079460155"},
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 201
            pid = (await response.json())["id"]

        async def state() -> str:
            view = await service.get_conference(conf)
            return next(p["state"] for p in view["participants"] if p["id"] == pid)

        async def connected() -> bool:
            return await state() in ("connected", "talking")

        await wait_until(connected, within=10)
        async with service.http.delete(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants/{pid}",
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 204
        code, output = await trunk  # 200 only for the right credentials, then our BYE
        assert code == 0, output[-3000:]
        assert await state() == "left"
    finally:
        trunk.cancel()
        await organizer.close()


REGISTRAR_PORT = free_port()


async def test_registers_with_the_trunk(aiohttp_server: object, tmp_path: Path) -> None:
    from server.app import GATEWAY, create_app

    shutil.copy(SCENARIOS / "uas_register.xml", tmp_path)
    registrar = asyncio.ensure_future(run(
        require("sipp"), "-sf", "uas_register.xml", "-i", "127.0.0.1",
        "-p", str(REGISTRAR_PORT), "-m", "1", "-nostdin", "-timeout", "20s",
        cwd=tmp_path, limit=25,
    ))
    settings = Settings(
        data_dir=tmp_path / "data", sip_port=0, sip_trunk=f"sip:127.0.0.1:{REGISTRAR_PORT}",
        sip_trunk_username="bridge", sip_trunk_password="s3cret", sip_trunk_register=True,
    )
    server = await aiohttp_server(create_app(settings))  # type: ignore[operator]
    registration = server.app[GATEWAY].registration
    assert registration is not None
    await wait_until(lambda: registration.active, within=10)
    code, output = await registrar  # 200 only for the right credentials
    assert code == 0, output[-2000:]
