"""Settings: defaults, TELEKONF_* variables and command-line options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from server.config import (
    Settings,
    add_arguments,
    env_name,
    load_settings,
    settings_from_argv,
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults() -> None:
    s = load_settings(None, {})
    assert s == Settings()
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert s.data_dir == Path("./data")
    assert s.database_path == Path("data") / "telekonf.sqlite3"
    assert s.base_url == "http://127.0.0.1:8080"
    assert (s.sip_host, s.sip_port) == ("127.0.0.1", 5060)
    assert s.ice_addresses == s.stun_servers == s.turn_servers == ()
    assert s.default_language == "en"
    assert s.mix_max_speakers == 8
    assert (s.pin_attempts, s.pin_window_seconds) == (5, 300.0)
    assert s.log_level == "INFO"


def test_env_name() -> None:
    assert env_name("http_port") == "TELEKONF_HTTP_PORT"
    assert env_name("pin_window_seconds") == "TELEKONF_PIN_WINDOW_SECONDS"


def test_environment_is_read_and_converted() -> None:
    env = {
        "TELEKONF_HTTP_HOST": "0.0.0.0",
        "TELEKONF_HTTP_PORT": "9000",
        "TELEKONF_DATA_DIR": "/var/lib/telekonf",
        "TELEKONF_PUBLIC_URL": "https://conf.example.org/",
        "TELEKONF_MIX_MAX_SPEAKERS": "4",
        "TELEKONF_PIN_WINDOW_SECONDS": "12.5",
        "TELEKONF_DEFAULT_LANGUAGE": "sl",
        "TELEKONF_LOG_LEVEL": "DEBUG",
        "UNRELATED": "ignored",
        "HTTP_PORT": "1",  # no prefix: not ours
    }
    s = load_settings(None, env)
    assert s.http_host == "0.0.0.0"
    assert s.http_port == 9000 and isinstance(s.http_port, int)
    assert s.data_dir == Path("/var/lib/telekonf") and isinstance(s.data_dir, Path)
    assert s.database_path == Path("/var/lib/telekonf/telekonf.sqlite3")
    assert s.base_url == "https://conf.example.org"
    assert s.mix_max_speakers == 4
    assert s.pin_window_seconds == 12.5
    assert s.default_language == "sl"
    assert s.log_level == "DEBUG"
    assert s.sip_port == 5060  # untouched


def test_os_environ_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEKONF_SIP_PORT", "5080")
    assert load_settings().sip_port == 5080


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("stun:a.example.org:3478", ("stun:a.example.org:3478",)),
        ("a,b", ("a", "b")),
        (" a , b ,, c ,", ("a", "b", "c")),
        ("", ()),
        (" , ,", ()),
    ],
)
def test_comma_lists_from_environment(raw: str, expected: tuple[str, ...]) -> None:
    s = load_settings(None, {"TELEKONF_STUN_SERVERS": raw, "TELEKONF_ICE_ADDRESSES": raw})
    assert s.stun_servers == expected
    assert s.ice_addresses == expected


def test_comma_lists_from_options() -> None:
    s = settings_from_argv(["--turn-servers", "turn:a:3478, turn:b:3478", "--ice-addresses", ""])
    assert s.turn_servers == ("turn:a:3478", "turn:b:3478")
    assert s.ice_addresses == ()


def test_options_override_environment() -> None:
    env = {"TELEKONF_HTTP_PORT": "9000", "TELEKONF_HTTP_HOST": "0.0.0.0",
           "TELEKONF_STUN_SERVERS": "stun:env"}
    args = parse(["--http-port", "9100", "--stun-servers", "stun:cli"])
    s = load_settings(args, env)
    assert s.http_port == 9100
    assert s.stun_servers == ("stun:cli",)
    assert s.http_host == "0.0.0.0"  # not given as an option: the environment's


def test_options_not_given_are_none_so_env_and_defaults_apply() -> None:
    args = parse([])
    assert args.http_port is None
    assert load_settings(args, {}) == Settings()


def test_every_setting_has_an_option() -> None:
    args = parse([
        "--http-host", "h", "--http-port", "1", "--data-dir", "d", "--public-url", "u",
        "--smtp-url", "smtp://m:25", "--sip-host", "s", "--sip-port", "2",
        "--ice-addresses", "i", "--stun-servers", "st", "--turn-servers", "t",
        "--turn-username", "tu", "--turn-password", "tp", "--default-language", "de",
        "--default-region", "SI", "--mix-max-speakers", "3", "--pin-attempts", "4",
        "--pin-window-seconds", "5.5", "--log-level", "ERROR",
    ])
    s = load_settings(args, {})
    assert s == Settings(
        http_host="h", http_port=1, data_dir=Path("d"), public_url="u",
        smtp_url="smtp://m:25", sip_host="s", sip_port=2, ice_addresses=("i",),
        stun_servers=("st",), turn_servers=("t",), turn_username="tu", turn_password="tp",
        default_language="de", default_region="SI", mix_max_speakers=3, pin_attempts=4,
        pin_window_seconds=5.5, log_level="ERROR",
    )


def test_settings_from_argv_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEKONF_HTTP_PORT", "9999")
    assert settings_from_argv([]).http_port == 8080


@pytest.mark.parametrize(
    "variable, raw",
    [
        ("TELEKONF_HTTP_PORT", "eighty"),
        ("TELEKONF_HTTP_PORT", ""),
        ("TELEKONF_SIP_PORT", "50.60"),
        ("TELEKONF_MIX_MAX_SPEAKERS", "8x"),
        ("TELEKONF_PIN_WINDOW_SECONDS", "five minutes"),
    ],
)
def test_bad_number_in_environment_exits_naming_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(SystemExit) as info:
        load_settings(None, {variable: raw})
    message = str(info.value.code)
    assert variable in message
    assert repr(raw) in message


def test_bad_number_option_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse(["--http-port", "eighty"])
    assert info.value.code == 2
    assert "--http-port" in capsys.readouterr().err


def test_help_names_variable_and_default() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "TELEKONF_HTTP_PORT" in text
    assert "default 8080" in text
    assert "TELEKONF_STUN_SERVERS" in text


def test_public_url_trailing_slashes_are_dropped() -> None:
    assert Settings(public_url="https://x.example/conf//").base_url == "https://x.example/conf"
    assert Settings(http_host="10.0.0.1", http_port=81).base_url == "http://10.0.0.1:81"


def test_base_url_brackets_an_ipv6_host() -> None:
    assert Settings(http_host="::1", http_port=81).base_url == "http://[::1]:81"
