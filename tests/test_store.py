"""The SQLite store: round trips, PIN uniqueness, roster order, durability across reopening."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.conference import (
    Conference,
    ConferenceState,
    Contact,
    Mode,
    Participant,
    Role,
)
from server.store import ConferenceRecord, PinTaken, RosterEvent, TokenRecord
from server.store.sqlite import SqliteStore

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=2))


def conference(cid: str = "c1", **kw: object) -> Conference:
    conf = Conference(
        id=cid,
        title="Weekly sync",
        organizer=Contact("Ana Novak", "ana@example.org", "+38640123456"),
        language="sl",
        created_at=T0,
        starts_at=datetime(2024, 5, 7, 10, 30, tzinfo=CET),
        **kw,  # type: ignore[arg-type]
    )
    # Participant ids are unique across conferences (random in the service).
    first, second = ("p1", "p2") if cid == "c1" else (f"{cid}-p1", f"{cid}-p2")
    conf.participants[first] = Participant(
        first, "Bob", email="bob@example.org", phone="+4930123456"
    )
    conf.participants[second] = Participant(second, "Cid", role=Role.ORGANIZER)
    return conf


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "telekonf.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(db_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_open_creates_the_directory_and_file(store: SqliteStore, db_path: Path) -> None:
    assert await asyncio.to_thread(db_path.exists)
    async with store.db.execute("PRAGMA journal_mode") as cursor:
        row = await cursor.fetchone()
    assert row is not None and row[0] == "wal"


async def test_closed_store_refuses_use(db_path: Path) -> None:
    s = SqliteStore(db_path)
    with pytest.raises(RuntimeError, match="not open"):
        await s.find_pin("12345678")
    await s.open()
    await s.close()
    await s.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="not open"):
        _ = s.db


async def test_conference_round_trip(store: SqliteStore) -> None:
    original = conference()
    await store.create_conference(original, "48213975", "4821397511")
    record = await store.load_conference("c1")
    assert isinstance(record, ConferenceRecord)
    assert (record.pin, record.moderator_pin) == ("48213975", "4821397511")
    loaded = record.conference
    assert loaded is not original
    assert loaded.id == "c1"
    assert loaded.title == "Weekly sync"
    assert loaded.language == "sl"
    assert loaded.organizer == Contact("Ana Novak", "ana@example.org", "+38640123456")
    assert loaded.created_at == T0
    assert loaded.starts_at == datetime(2024, 5, 7, 10, 30, tzinfo=CET)
    assert loaded.starts_at.utcoffset() == timedelta(hours=2)
    assert loaded.state is ConferenceState.SCHEDULED
    assert loaded.started_at is None and loaded.ended_at is None
    assert list(loaded.participants) == ["p1", "p2"]
    assert loaded.participants == original.participants


async def test_unknown_conference_loads_as_none(store: SqliteStore) -> None:
    assert await store.load_conference("nope") is None


async def test_state_and_participants_are_saved(store: SqliteStore) -> None:
    conf = conference()
    await store.create_conference(conf, "11223344", "5566778899")
    joined = conf.admit("p1", "Bob B.", Role.PARTICIPANT, Mode.DIAL_IN, T0 + timedelta(minutes=1))
    conf.admit("p3", "Dan", Role.ORGANIZER, Mode.WEB, T0 + timedelta(minutes=2))
    conf.set_muted("p1", True)
    conf.participants["p2"].failure = "busy"
    assert conf.state is ConferenceState.ACTIVE
    for pid in ("p1", "p3", "p2"):
        await store.save_participant("c1", conf.participants[pid])
    await store.save_conference(conf)
    assert joined  # events were produced

    loaded = (await store.load_conference("c1")).conference  # type: ignore[union-attr]
    assert loaded.state is ConferenceState.ACTIVE
    assert loaded.started_at == T0 + timedelta(minutes=2)
    # Order of first saving: p1, p2 from creation, then p3 appended.
    assert list(loaded.participants) == ["p1", "p2", "p3"]
    p1 = loaded.participants["p1"]
    assert (p1.name, p1.mode, p1.muted) == ("Bob B.", Mode.DIAL_IN, True)
    assert p1.joined_at == T0 + timedelta(minutes=1)
    assert loaded.participants["p2"].failure == "busy"
    assert loaded.participants["p3"].role is Role.ORGANIZER
    assert loaded.participants["p3"].present

    conf.leave("p3", T0 + timedelta(minutes=30), "removed")
    assert conf.state is ConferenceState.ENDED
    await store.save_participant("c1", conf.participants["p3"])
    await store.save_conference(conf)
    loaded = (await store.load_conference("c1")).conference  # type: ignore[union-attr]
    assert loaded.state is ConferenceState.ENDED
    assert loaded.ended_at == T0 + timedelta(minutes=30)
    p3 = loaded.participants["p3"]
    assert (p3.left_at, p3.left_reason) == (T0 + timedelta(minutes=30), "removed")


async def test_unended_conference_ids(store: SqliteStore) -> None:
    await store.create_conference(conference("a"), "10000001", "1000000001")
    await store.create_conference(conference("b"), "10000002", "1000000002")
    ended = conference("c")
    await store.create_conference(ended, "10000003", "1000000003")
    ended.end(T0)
    await store.save_conference(ended)
    assert sorted(await store.unended_conference_ids()) == ["a", "b"]


# -- PINs -------------------------------------------------------------------------------------


async def test_find_pin_gives_conference_and_role(store: SqliteStore) -> None:
    await store.create_conference(conference(), "48213975", "4821397511")
    assert await store.find_pin("48213975") == ("c1", "participant")
    assert await store.find_pin("4821397511") == ("c1", "organizer")
    assert await store.find_pin("00000000") is None


@pytest.mark.parametrize(
    "pin, moderator_pin",
    [
        ("48213975", "9999999999"),  # participant PIN taken
        ("99999999", "4821397511"),  # moderator PIN taken
        ("4821397511", "99999999"),  # crossing kinds
    ],
)
async def test_duplicate_live_pin_is_refused(
    store: SqliteStore, pin: str, moderator_pin: str
) -> None:
    await store.create_conference(conference("c1"), "48213975", "4821397511")
    with pytest.raises(PinTaken):
        await store.create_conference(conference("c2"), pin, moderator_pin)
    # Nothing of the refused conference was kept.
    assert await store.load_conference("c2") is None
    assert await store.find_pin("99999999") is None
    assert await store.find_pin("9999999999") is None
    assert await store.unended_conference_ids() == ["c1"]
    # And it can be created with fresh PINs.
    await store.create_conference(conference("c2"), "31415926", "2718281828")
    assert await store.find_pin("31415926") == ("c2", "participant")
    record = await store.load_conference("c2")
    assert record is not None
    assert list(record.conference.participants) == ["c2-p1", "c2-p2"]


async def test_same_pin_for_both_roles_is_refused(store: SqliteStore) -> None:
    with pytest.raises(PinTaken):
        await store.create_conference(conference(), "12121212", "12121212")
    assert await store.load_conference("c1") is None


async def test_release_pins_frees_them_for_reuse(store: SqliteStore) -> None:
    await store.create_conference(conference("c1"), "48213975", "4821397511")
    await store.release_pins("c1")
    assert await store.find_pin("48213975") is None
    assert await store.find_pin("4821397511") is None
    # The conference itself is kept, with its PINs on record.
    record = await store.load_conference("c1")
    assert record is not None and record.pin == "48213975"
    await store.create_conference(conference("c2"), "48213975", "4821397511")
    assert await store.find_pin("48213975") == ("c2", "participant")


async def test_release_pins_touches_only_that_conference(store: SqliteStore) -> None:
    await store.create_conference(conference("c1"), "10000001", "1000000001")
    await store.create_conference(conference("c2"), "10000002", "1000000002")
    await store.release_pins("c1")
    assert await store.find_pin("10000002") == ("c2", "participant")
    assert await store.find_pin("1000000002") == ("c2", "organizer")


# -- roster ---------------------------------------------------------------------------------------


async def test_roster_events_come_back_in_insertion_order(store: SqliteStore) -> None:
    await store.create_conference(conference("c1"), "10000001", "1000000001")
    await store.create_conference(conference("c2"), "10000002", "1000000002")
    events = [
        RosterEvent("c1", "p1", "join", T0 + timedelta(minutes=5), "web", None),
        RosterEvent("c1", "p2", "join", T0 + timedelta(minutes=1), "dial-in", None),
        RosterEvent("c2", "x", "join", T0, "web", None),
        # Same time as the first: order is by insertion, not time.
        RosterEvent("c1", "p1", "leave", T0 + timedelta(minutes=5), "web", "left"),
        RosterEvent("c1", "p2", "leave", T0 + timedelta(minutes=9), None, "removed"),
    ]
    for event in events:
        await store.add_roster_event(event)
    assert await store.roster("c1") == [events[0], events[1], events[3], events[4]]
    assert await store.roster("c2") == [events[2]]
    assert await store.roster("none") == []


# -- tokens -----------------------------------------------------------------------------------


async def test_tokens_round_trip(store: SqliteStore) -> None:
    await store.create_conference(conference(), "10000001", "1000000001")
    organizer = TokenRecord("organizer", "c1", None, None)
    participant = TokenRecord("participant", "c1", "p1", T0 + timedelta(hours=24))
    await store.add_token("a" * 64, organizer)
    await store.add_token("b" * 64, participant)
    assert await store.get_token("a" * 64) == organizer
    assert await store.get_token("b" * 64) == participant
    assert await store.get_token("c" * 64) is None


async def test_token_hash_is_unique(store: SqliteStore) -> None:
    import sqlite3

    await store.create_conference(conference(), "10000001", "1000000001")
    await store.add_token("a" * 64, TokenRecord("organizer", "c1", None, None))
    with pytest.raises(sqlite3.IntegrityError):
        await store.add_token("a" * 64, TokenRecord("participant", "c1", "p1", None))


async def test_token_needs_an_existing_conference(store: SqliteStore) -> None:
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError):
        await store.add_token("a" * 64, TokenRecord("organizer", "missing", None, None))


# -- durability -------------------------------------------------------------------------------


async def test_everything_survives_closing_and_reopening(db_path: Path) -> None:
    first = SqliteStore(db_path)
    await first.open()
    conf = conference()
    await first.create_conference(conf, "48213975", "4821397511")
    conf.admit("p1", "Bob", Role.PARTICIPANT, Mode.WEB, T0)
    await first.save_participant("c1", conf.participants["p1"])
    await first.save_conference(conf)
    await first.add_roster_event(RosterEvent("c1", "p1", "join", T0, "web", None))
    await first.add_token("h" * 64, TokenRecord("participant", "c1", "p1", T0))
    await first.close()

    second = SqliteStore(db_path)
    await second.open()  # the schema script runs again without harm
    try:
        record = await second.load_conference("c1")
        assert record is not None
        assert record.conference.state is ConferenceState.WAITING
        assert record.conference.participants["p1"].joined_at == T0
        assert await second.find_pin("48213975") == ("c1", "participant")
        assert await second.roster("c1") == [RosterEvent("c1", "p1", "join", T0, "web", None)]
        assert await second.get_token("h" * 64) == TokenRecord("participant", "c1", "p1", T0)
        assert await second.unended_conference_ids() == ["c1"]
        with pytest.raises(PinTaken):
            await second.create_conference(conference("c2"), "48213975", "1111111112")
    finally:
        await second.close()


async def test_writes_are_committed_before_returning(store: SqliteStore, db_path: Path) -> None:
    """A second connection sees each write at once (nothing left in a transaction)."""
    import sqlite3

    await store.create_conference(conference(), "48213975", "4821397511")
    await store.add_roster_event(RosterEvent("c1", "p1", "join", T0, "web", None))
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT count(*) FROM conferences").fetchone() == (1,)
        assert other.execute("SELECT count(*) FROM participants").fetchone() == (2,)
        assert other.execute("SELECT count(*) FROM roster_events").fetchone() == (1,)
        assert other.execute("SELECT count(*) FROM live_pins").fetchone() == (2,)
    finally:
        other.close()


async def test_schema_version_is_recorded_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    import sqlite3

    from server.store.sqlite import MIGRATIONS

    path = tmp_path / "v.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    newer = SqliteStore(path)
    with pytest.raises(RuntimeError, match="newer"):
        await newer.open()
    await newer.close()


async def test_a_version_2_file_is_upgraded_keeping_its_data(db_path: Path) -> None:
    """A database written before accounts existed opens with everything in it."""
    import sqlite3

    from server.store.sqlite import MIGRATIONS

    db_path.parent.mkdir(parents=True, exist_ok=True)
    old = sqlite3.connect(db_path)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        old.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    old.execute(
        "INSERT INTO conferences (id, title, language, organizer_name, organizer_email, pin,"
        " moderator_pin, state, created_at) VALUES ('c9', 'Old', 'de', 'Ana', 'ana@x.org',"
        " '12345670', '9876543201', 'scheduled', ?)", (T0.isoformat(),),
    )
    old.execute(
        "INSERT INTO outbox (conference_id, kind, recipient, subject, body_text, body_html,"
        " next_attempt_at, created_at) VALUES ('c9', 'invitation', 'bob@x.org', 'Hi', 't',"
        " 'h', ?, ?)", (T0.isoformat(), T0.isoformat()),
    )
    old.commit()
    old.close()

    store = SqliteStore(db_path)
    await store.open()
    try:
        record = await store.load_conference("c9")
        assert record is not None and record.conference.title == "Old"
        assert record.conference.owner_user_id is None and record.conference.ics_sequence == 0
        (entry,) = await store.outbox_for_conference("c9")
        assert (entry.recipient, entry.state, entry.participant_id) == ("bob@x.org", "queued",
                                                                         None)
        async with store.db.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == len(MIGRATIONS)
    finally:
        await store.close()


async def test_a_failed_migration_leaves_the_file_as_it_was(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.store import sqlite as sqlite_module

    broken = (*sqlite_module.MIGRATIONS, "CREATE TABLE half_done (x); SELECT * FROM nowhere;")
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", broken)
    store = SqliteStore(db_path)
    with pytest.raises(Exception, match="nowhere"):
        await store.open()
    await store.close()
    monkeypatch.undo()
    store = SqliteStore(db_path)
    await store.open()
    try:
        async with store.db.execute(
            "SELECT name FROM sqlite_master WHERE name='half_done'"
        ) as cursor:
            assert await cursor.fetchone() is None
    finally:
        await store.close()
