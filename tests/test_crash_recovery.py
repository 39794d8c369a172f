"""The service killed mid-conference (SIGKILL) and started again on the same data.

The conference is closed at the last heartbeat, its open legs marked ``server-died``, and
the organiser's report arrives exactly once, however often the service restarts.
"""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

import aiohttp

from .conftest import LiveServer, start_server, stop_server
from .support.client import Participant
from .support.smtp import SmtpServer, text_of


def serve(data_dir: Path, smtp: SmtpServer, port: int | None = None) -> LiveServer:
    return start_server(data_dir, port, extra_args=(
        "--smtp-url", smtp.url, "--heartbeat-seconds", "0.2",
    ))


async def test_a_killed_conference_is_closed_and_reported_once(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    data = tmp_path / "data"
    server = serve(data, smtp)
    port = int(server.url.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/v1/conferences", json={
            "title": "Doomed", "organizer": {"name": "Olga", "email": "olga@example.org"},
        }) as response:
            conference = await response.json()
        await smtp.mailbox.wait_to("olga@example.org")  # her invitation copy
        organizer = Participant(http, server.url, 440)
        try:
            await organizer.join(conference["moderator_pin"], "Olga")
            auth = {"Authorization": f"Bearer {conference['organizer_token']}"}
            async with http.get(
                f"{server.url}/api/v1/conferences/{conference['id']}", headers=auth
            ) as response:
                view = await response.json()
            assert view["state"] == "active"
            joined_at = datetime.fromisoformat(view["participants"][0]["joined_at"])
            # Killed without warning.
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
            killed_at = datetime.now(joined_at.tzinfo)
        finally:
            await organizer.close()

        server = serve(data, smtp, port)
        try:
            async with http.get(
                f"{server.url}/api/v1/conferences/{conference['id']}/report", headers=auth
            ) as response:
                report = await response.json()
            reports = await smtp.mailbox.wait_for(
                lambda ms: any("Report" in str(m["Subject"]) for m in ms)
            )
        finally:
            stop_server(server)
        assert report["conference"]["state"] == "ended"
        (session,) = report["participants"][0]["sessions"]
        assert session["left_reason"] == "server-died"
        left_at = datetime.fromisoformat(session["left_at"])
        # Closed at the last heartbeat: after joining, not later than the kill.
        assert joined_at <= left_at <= killed_at
        (mail,) = [m for m in reports if "Report" in str(m["Subject"])]
        assert str(mail["Subject"]) == "Report: Doomed" and "Olga" in text_of(mail)

        # Another restart: the outbox holds that one report, sent; nothing new is queued.
        server = serve(data, smtp, port)
        try:
            async with http.get(
                f"{server.url}/api/v1/conferences/{conference['id']}/notifications",
                headers=auth,
            ) as response:
                sent = [n for n in await response.json() if n["kind"] == "report"]
        finally:
            stop_server(server)
        assert [(n["recipient"], n["state"]) for n in sent] == [("olga@example.org", "sent")]
        assert len([m for m in smtp.mailbox.messages if "Report" in str(m["Subject"])]) == 1
