"""Settings of the service: every one is a command-line option and a ``TELEKONF_*`` variable."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .access import DEVELOPMENT_NUMBERS, parse_access_numbers


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    data_dir: Path = Path("./data")
    public_url: str = ""
    smtp_url: str = ""
    # Sender of invitations and other mail (RFC 5322 address, with a display name).
    mail_from: str = "Telekonf <noreply@localhost>"
    # SMS: empty or "dev" keeps messages on the development page; smpp://… or http(s)://…
    sms_url: str = ""
    sms_sender: str = "Telekonf"
    sms_http_method: str = "POST"
    sms_http_auth: str = ""
    sms_http_content_type: str = "json"
    sms_http_template: str = '{"to": "{to}", "from": "{sender}", "text": "{text}"}'
    sms_http_id_path: str = ""
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # Phone calls at once, and callers at the PIN prompt at once (beyond: 503).
    sip_max_calls: int = 500
    sip_max_pin_prompt: int = 100
    # Address put in SDP for phones' RTP (default: the SIP address) and the port range.
    rtp_host: str = ""
    rtp_port_min: int = 20000
    rtp_port_max: int = 29999
    # Dial-out through the carrier's trunk (an outbound proxy), with digest credentials.
    sip_trunk: str = ""
    sip_trunk_username: str = ""
    sip_trunk_password: str = ""
    caller_id: str = ""
    # Register with the trunk (some carriers route calls to a registered contact).
    sip_trunk_register: bool = False
    dial_out_countries: tuple[str, ...] = ("GB", "SI", "DE", "AT")
    dial_out_max_per_conference: int = 20
    dial_out_max_per_account: int = 40
    dial_out_max_total: int = 100
    ring_timeout: float = 45.0
    # Ask a called person to press 1 before joining, so voicemail never joins.
    dial_out_press_one: bool = False
    # Dial-in numbers as +E164:mode (premium, geographic, tollfree).
    access_numbers: tuple[str, ...] = DEVELOPMENT_NUMBERS
    # Local addresses offered as ICE host candidates; empty means every interface.
    ice_addresses: tuple[str, ...] = ()
    stun_servers: tuple[str, ...] = ()
    turn_servers: tuple[str, ...] = ()
    turn_username: str = ""
    turn_password: str = ""
    default_language: str = "en"
    # Region for phone numbers written without a country code (ISO code); empty: none.
    default_region: str = ""
    # Unmuted speakers mixed at once (the loudest win); the rest only listen.
    mix_max_speakers: int = 8
    # Wrong PINs tolerated from one client per window before it is refused.
    pin_attempts: int = 5
    pin_window_seconds: float = 300.0
    # Tariffs (TOML; empty: the bundled development tariffs) and the heartbeat interval.
    tariffs: str = ""
    heartbeat_seconds: float = 5.0
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "telekonf.sqlite3"


# name, type, help; the option is --name-with-dashes, the variable TELEKONF_NAME.
_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("http_host", str, "address the HTTP server listens on"),
    ("http_port", int, "port the HTTP server listens on"),
    ("data_dir", Path, "directory of the SQLite database and other state"),
    ("public_url", str, "base URL of links handed to users (default: http://HOST:PORT)"),
    ("smtp_url", str, "outgoing mail server, smtp://[user:pass@]host:port "
     "(smtp+starttls://… for STARTTLS, smtps://… for implicit TLS)"),
    ("mail_from", str, "sender address of outgoing mail, e.g. 'Telekonf <noreply@example.org>'"),
    ("sms_url", str, "SMS provider: empty or 'dev' (kept on the /dev/sms page), "
     "smpp://system_id:password@host:port, or an http(s):// URL of an SMS API"),
    ("sms_sender", str, "sender name or number of SMS"),
    ("sms_http_method", str, "HTTP SMS API: request method"),
    ("sms_http_auth", str, "HTTP SMS API: basic:USER:PASS, bearer:TOKEN or header:NAME:VALUE"),
    ("sms_http_content_type", str, "HTTP SMS API: json or form"),
    ("sms_http_template", str, "HTTP SMS API: request body with {to}, {to_digits}, {sender}, "
     "{text}"),
    ("sms_http_id_path", str, "HTTP SMS API: where the message id is in the JSON answer "
     "(e.g. messages.0.id)"),
    ("sip_host", str, "address of the SIP gateway"),
    ("sip_port", int, "port of the SIP gateway (UDP and TCP; 0: any free port)"),
    ("sip_trunk", str, "outbound proxy for dial-out, e.g. sip:127.0.0.1:5070 (empty: no dial-out)"),
    ("sip_trunk_username", str, "digest username at the trunk"),
    ("sip_trunk_password", str, "digest password at the trunk"),
    ("caller_id", str, "caller ID (E.164) presented on dial-out"),
    ("sip_trunk_register", bool, "register with the trunk (1/0)"),
    ("dial_out_countries", tuple, "ISO country codes dial-out may call"),
    ("dial_out_max_per_conference", int, "most simultaneous dial-out calls per conference"),
    ("dial_out_max_per_account", int, "most simultaneous dial-out calls per registered "
     "account (all its organisers' conferences)"),
    ("dial_out_max_total", int, "most simultaneous dial-out calls in all"),
    ("ring_timeout", float, "seconds a dialled phone may ring before we give up"),
    ("dial_out_press_one", bool, "ask called people to press 1 before they join (1/0)"),
    ("sip_max_calls", int, "most phone calls at once (more get 503)"),
    ("sip_max_pin_prompt", int, "most callers at the PIN prompt at once (more get 503)"),
    ("rtp_host", str, "address of phone media (RTP) in SDP (default: the SIP host)"),
    ("rtp_port_min", int, "lowest RTP port for phone legs"),
    ("rtp_port_max", int, "highest RTP port for phone legs"),
    ("access_numbers", tuple, "comma-separated dial-in numbers as +E164:MODE (premium, "
     "geographic or tollfree)"),
    ("ice_addresses", tuple, "comma-separated local addresses offered as ICE host candidates"),
    ("stun_servers", tuple, "comma-separated STUN URLs, e.g. stun:stun.example.org:3478"),
    ("turn_servers", tuple, "comma-separated TURN URLs"),
    ("turn_username", str, "TURN username"),
    ("turn_password", str, "TURN password"),
    ("default_language", str, "language of prompts and pages when none is chosen (en, de, sl)"),
    ("default_region", str, "ISO region of phone numbers given without +country code"),
    ("mix_max_speakers", int, "most speakers mixed at once (loudest first)"),
    ("pin_attempts", int, "wrong PINs tolerated per client and window"),
    ("pin_window_seconds", float, "window of the wrong-PIN limit, in seconds"),
    ("tariffs", str, "TOML file of tariffs: currency, fees, call rates, add-ons, rounding "
     "(empty: the bundled development tariffs)"),
    ("heartbeat_seconds", float, "how often the service records that it is alive (a crash "
     "closes open calls at the last record)"),
    ("log_level", str, "DEBUG, INFO, WARNING or ERROR"),
)


def env_name(name: str) -> str:
    return "TELEKONF_" + name.upper()


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {raw!r}")


def _convert(kind: type, raw: str) -> object:
    if kind is tuple:
        return _split(raw)
    if kind is bool:
        return _boolean(raw)
    return kind(raw)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    for name, kind, help_text in _OPTIONS:
        default = getattr(defaults, name)
        shown = ",".join(default) if isinstance(default, tuple) else default
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_split if kind is tuple else _boolean if kind is bool else kind,
            default=None,
            help=f"{help_text} [env {env_name(name)}; default {shown!s}]",
        )


def load_settings(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Options win over environment variables, which win over defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, kind, _ in _OPTIONS:
        given = getattr(args, name, None) if args is not None else None
        if given is not None:
            values[name] = given
        elif env_name(name) in environ:
            raw = environ[env_name(name)]
            try:
                values[name] = _convert(kind, raw)
            except ValueError as exc:
                raise SystemExit(f"{env_name(name)}={raw!r}: {exc}") from exc
    settings = dataclasses.replace(Settings(), **values)  # type: ignore[arg-type]
    try:
        parse_access_numbers(settings.access_numbers)
    except ValueError as exc:
        raise SystemExit(f"{env_name('access_numbers')}: {exc}") from exc
    if settings.smtp_url:
        from .notify.smtp import SmtpTransport

        try:
            SmtpTransport.from_url(settings.smtp_url)
        except ValueError as exc:
            raise SystemExit(f"{env_name('smtp_url')}: {exc}") from exc
    return settings


def settings_from_argv(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load_settings(parser.parse_args(argv), {})
