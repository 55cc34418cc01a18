"""Unit tests for chalicelib.storage.rules: key rules, locating a key, and who may write or read it."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from chalicelib.storage.rules import (
    MAX_FILENAME_BYTES,
    MAX_KEY_BYTES,
    QUARANTINE_PREFIX,
    Actor,
    Verdict,
    content_type_allowed,
    decide_read,
    decide_write,
    folder_key,
    judge_write,
    key_problem,
    locate,
    safe_filename,
)
from chalicelib.storage.spec import MB, FolderRule, StorageSpec
from chalicelib.tenancy.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]

PUBLIC = FolderRule("public/", "admin", "members", ("image/*", "application/pdf"), 10 * MB)
UPLOADS = FolderRule("uploads/", "members", "members", ("image/*", "application/pdf", "text/plain"), 25 * MB)
PRIVATE = FolderRule("private/{user}/", "owner", "owner", ("*/*",), 25 * MB)
POSTERS = FolderRule("posters/", "organizer", "members", ("image/*",), 10 * MB)
ASSIGNMENTS = FolderRule("assignments/{user}/", "owner", "teacher", ("application/pdf",), 50 * MB)
STORAGE = {
    "church": StorageSpec((PUBLIC, UPLOADS, PRIVATE)),
    "events": StorageSpec((POSTERS,)),
    "students": StorageSpec((ASSIGNMENTS,)),
    "empty": StorageSpec(),
}

MEMBER = Actor("church", "u-member", ("member",))
ADMIN = Actor("church", "u-admin", ("member", "admin"))
VOLUNTEER = Actor("church", "u-volunteer", ("member", "volunteer"))
EVENTS_MEMBER = Actor("events", "u-member", ("member",))  # the same person, with an events token
PLATFORM_ADMIN = Actor(None, "u-root", (), is_admin=True)
NOT_MEMBER = Actor("church", "u-stranger", ())
BACKEND = Actor("church", None, ("member",))
ACTORS = {
    "member": MEMBER,
    "admin": ADMIN,
    "volunteer": VOLUNTEER,
    "events-member": EVENTS_MEMBER,
    "platform-admin": PLATFORM_ADMIN,
    "not-member": NOT_MEMBER,
    "backend": BACKEND,
    "nobody": None,
}


def write(
    key: str, actor: Actor | None, *, size: int | None = 1000, content_type: str | None = "image/png"
) -> Verdict:
    return decide_write(key, size=size, content_type=content_type, actor=actor, storage=STORAGE)


def read(key: str, actor: Actor | None) -> Verdict:
    return decide_read(key, actor=actor, storage=STORAGE)


# --- key_problem --------------------------------------------------------------------------------


def _utf8_key(total: int) -> str:
    """A key of exactly `total` UTF-8 bytes, mostly 3-byte characters."""
    prefix = "church/uploads/"
    rest = total - len(prefix)
    return prefix + "€" * (rest // 3) + "a" * (rest % 3)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "empty"),
        ("church/../events/x", "'..' segment"),  # what `church%2F..%2Fevents%2Fx` decodes to
        ("church/uploads/..", "'..' segment"),
        ("../church/x", "'..' segment"),
        ("church/./x", "'.' segment"),
        ("./x", "'.' segment"),
        ("church//x", "empty segment"),
        ("/church/x", "empty segment"),
        ("church/x/", "ends with '/'"),
        ("church/uploads/", "folder object"),
        ("church/a\x00b", "U+0000"),
        ("church/a\x1fb", "U+001F"),
        ("church/a\nb", "U+000A"),
        ("church/a\x7fb", "U+007F"),
        ("church/a\x85b", "U+0085"),
        ("church/a\x9fb", "U+009F"),
        ("church\\..\\events\\x", "backslash"),
        ("church/a\\b", "backslash"),
        ("church/\ud800", "lone surrogate"),
        (_utf8_key(MAX_KEY_BYTES + 1), "1,025 bytes of UTF-8; S3's limit is 1,024"),
    ],
)
def test_key_problem_refuses(key: str, fragment: str) -> None:
    problem = key_problem(key)

    assert problem is not None
    assert fragment in problem, problem


@pytest.mark.parametrize(
    "key",
    [
        "church/a b+c.txt",  # the S3 event says `church/a+b%2Bc.txt`; the event layer decodes it once
        "church%2F..%2Fx",  # a literal: one segment, not a way out of anything
        "church/..x/x..",
        "church/.hidden",
        "church/uploads/résumé ☃.pdf",
        _utf8_key(MAX_KEY_BYTES),
    ],
)
def test_key_problem_accepts(key: str) -> None:
    assert key_problem(key) is None


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    fits, too_long = _utf8_key(1024), _utf8_key(1025)

    assert len(fits) < 400
    assert len(fits.encode()) == 1024
    assert key_problem(fits) is None
    assert key_problem(too_long) is not None


# --- locate -------------------------------------------------------------------------------------


def test_locate_names_the_app_folder_and_owner() -> None:
    assert locate("church/private/u-1/a.txt", STORAGE) == Verdict(
        True, "key is in church/private/{user}/", "church", PRIVATE, "u-1"
    )
    assert locate("church/uploads/deep/er/a.txt", STORAGE)[:4] == (
        True,
        "key is in church/uploads/",
        "church",
        UPLOADS,
    )


@pytest.mark.parametrize(
    ("key", "app", "fragment"),
    [
        ("church%2F..%2Fx", None, "it has no '<app>/' prefix"),  # one top-level segment
        ("church%2F..%2Fx/y", None, "'church%2F..%2Fx' is not an app"),
        ("churchevil/public/x.png", None, "churchevil is not an app"),
        ("church", None, "no '<app>/' prefix"),
        ("x.png", None, "no '<app>/' prefix"),
        ("nope/public/x", None, "nope is not an app"),
        ("_quarantine/church/public/x.png", None, "'_quarantine/'"),
        (
            "church/a b+c.txt",
            "church",
            "in no folder of church (its folders: 'public/', 'uploads/', 'private/{user}/')",
        ),
        ("church/public", "church", "in no folder of church"),
        ("church/private/x.txt", "church", "in no folder"),  # the folder of a user is missing
        ("church/publicx/a.png", "church", "in no folder"),
        ("church/Public/a.png", "church", "in no folder"),
        ("empty/public/a.png", "empty", "its folders: none: uploads are refused"),
        ("church/../events/posters/x.png", None, "'..' segment"),
    ],
)
def test_locate_refuses(key: str, app: str | None, fragment: str) -> None:
    verdict = locate(key, STORAGE)

    assert not verdict.allowed
    assert verdict.app == app
    assert verdict.folder is None
    assert fragment in verdict.reason, verdict.reason


def test_a_prefix_of_an_app_slug_never_matches_that_app() -> None:
    for key in ("churchevil/public/x.png", "church-evil/public/x.png", "chur/public/x.png"):
        verdict = write(key, PLATFORM_ADMIN)
        assert not verdict.allowed
        assert verdict.app is None


# --- decide_write: the truth table --------------------------------------------------------------

ALL = set(ACTORS)
WRITERS = {
    "church/public/a.png": {"admin", "platform-admin"},
    "church/uploads/a.png": {"member", "admin", "volunteer", "backend", "platform-admin"},
    "church/private/u-member/a.png": {"member", "platform-admin"},
    "church/private/u-admin/a.png": {"admin", "platform-admin"},
    "church/private/u-other/a.png": {"platform-admin"},
    "events/posters/a.png": {"platform-admin"},
    "_quarantine/church/uploads/a.png": set(),
    "churchevil/uploads/a.png": set(),
    "church/a.png": set(),
}


@pytest.mark.parametrize("key", WRITERS)
@pytest.mark.parametrize("who", ACTORS)
def test_who_may_write(key: str, who: str) -> None:
    verdict = write(key, ACTORS[who])

    assert verdict.allowed is (who in WRITERS[key]), verdict.reason


READERS = {
    "church/public/a.png": ALL - {"events-member", "not-member", "nobody"},
    "church/uploads/a.png": ALL - {"events-member", "not-member", "nobody"},
    "church/private/u-member/a.png": {"member", "platform-admin"},
    "church/private/u-other/a.png": {"platform-admin"},
    "_quarantine/church/uploads/a.png": {"platform-admin"},
    "church/a.png": set(),
    "churchevil/public/a.png": set(),
}


@pytest.mark.parametrize("key", READERS)
@pytest.mark.parametrize("who", ACTORS)
def test_who_may_read(key: str, who: str) -> None:
    verdict = read(key, ACTORS[who])

    assert verdict.allowed is (who in READERS[key]), verdict.reason


def test_the_owner_always_reads_their_own_folder_and_teachers_read_all() -> None:
    student = Actor("students", "u-s1", ("member",))
    other = Actor("students", "u-s2", ("member",))
    teacher = Actor("students", "u-t", ("member", "teacher"))
    key = "students/assignments/u-s1/essay.pdf"

    assert write(key, student, content_type="application/pdf").allowed
    assert not write(key, teacher, content_type="application/pdf").allowed
    assert read(key, student).allowed
    assert "owns students/assignments/{user}/" in read(key, student).reason
    assert read(key, teacher).allowed
    refused = read(key, other)
    assert not refused.allowed
    assert "only students role 'teacher' may" in refused.reason


def test_a_user_of_the_same_id_in_another_app_is_not_the_owner() -> None:
    verdict = read("church/private/u-member/a.png", EVENTS_MEMBER)

    assert not verdict.allowed
    assert (
        verdict.reason
        == "user u-member of events (member) acts for events: only church may read church/private/{user}/"
    )


def test_verdicts_carry_the_app_folder_and_owner() -> None:
    verdict = write("church/private/u-member/a.png", MEMBER)

    assert verdict == Verdict(
        True,
        "user u-member of church (member) may write church/private/{user}/",
        "church",
        PRIVATE,
        "u-member",
    )
    refused = write("church/private/u-other/a.png", MEMBER)
    assert (refused.app, refused.folder, refused.owner) == ("church", PRIVATE, "u-other")
    assert refused.reason == (
        "user u-member of church (member) may not write church/private/{user}/: only its owner u-other may"
    )


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        (None, "uploader unknown"),
        (MEMBER, "may not write church/public/: only church role 'admin' may"),
        (NOT_MEMBER, "user u-stranger of church (not a member) may not write"),
        (Actor(None, "u-x", ("member",)), "acts for no app: only church may write"),
        (Actor("events", None, ("member",)), "the backend of events acts for events: only church may write"),
    ],
)
def test_write_refusals_say_why(actor: Actor | None, reason: str) -> None:
    verdict = write("church/public/a.png", actor)

    assert not verdict.allowed
    assert reason in verdict.reason, verdict.reason


def test_nobody_writes_to_quarantine_not_even_the_platform_admin() -> None:
    for actor in ACTORS.values():
        verdict = write(QUARANTINE_PREFIX + "church/uploads/a.png", actor)
        assert not verdict.allowed
        assert "only the platform moves objects there" in verdict.reason


def test_a_hostile_actor_cannot_break_the_reason_line() -> None:
    actor = Actor("church\n", "u\x1b[31m\n" + "x" * 500, ("mem ber\n",))

    reason = write("church/uploads/a.png", actor).reason

    assert "\n" not in reason
    assert "\x1b" not in reason
    assert len(reason) < 300


# --- decide_write: size and content type --------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "allowed"),
    [(0, True), (1, True), (25 * MB, True), (25 * MB + 1, False), (None, False), (-1, False)],
)
def test_size_limit_is_inclusive(size: int | None, allowed: bool) -> None:
    assert write("church/uploads/a.png", MEMBER, size=size).allowed is allowed


def test_size_reasons() -> None:
    assert write("church/uploads/a.png", MEMBER, size=30 * MB).reason == (
        "size 30 MB exceeds church/uploads/ limit of 25 MB"
    )
    assert "size 26,214,401 bytes exceeds" in write("church/uploads/a.png", MEMBER, size=25 * MB + 1).reason
    assert "size unknown" in write("church/uploads/a.png", MEMBER, size=None).reason


@pytest.mark.parametrize(
    ("key", "content_type", "allowed"),
    [
        ("church/uploads/a", "image/png", True),
        ("church/uploads/a", "image/png; charset=binary", True),
        ("church/uploads/a", "IMAGE/PNG", True),
        ("church/uploads/a", " image/svg+xml ", True),
        ("church/uploads/a", "text/plain;charset=utf-8", True),
        ("church/uploads/a", "application/pdf", True),
        ("church/uploads/a", "text/html", False),
        ("church/uploads/a", "application/x-msdownload", False),
        ("church/uploads/a", "image", False),
        ("church/uploads/a", "image/", False),
        ("church/uploads/a", "*/*", False),
        ("church/uploads/a", "image/*", False),
        ("church/uploads/a", "", False),
        ("church/uploads/a", None, False),
        ("church/private/u-member/a", None, True),  # only a "*/*" folder takes an unknown type
        ("church/private/u-member/a", "application/x-anything", True),
        ("church/private/u-member/a", "not a type", False),
    ],
)
def test_content_types(key: str, content_type: str | None, allowed: bool) -> None:
    assert write(key, MEMBER, content_type=content_type).allowed is allowed


def test_content_type_reasons() -> None:
    assert write("church/uploads/a", MEMBER, content_type="text/html").reason == (
        "content type text/html is not accepted in church/uploads/; allowed: image/*, application/pdf, text/plain"
    )
    assert "content type unknown" in write("church/uploads/a", MEMBER, content_type=None).reason


def test_the_platform_admin_is_still_held_to_the_folder_types_and_size() -> None:
    assert write("church/public/a.png", PLATFORM_ADMIN).allowed
    assert not write("church/public/a.exe", PLATFORM_ADMIN, content_type="application/x-msdownload").allowed
    assert not write("church/public/a.png", PLATFORM_ADMIN, size=10 * MB + 1).allowed


@pytest.mark.parametrize(
    ("content_type", "patterns", "allowed"),
    [
        ("image/png", ["image/*"], True),
        ("image/png", ["Image/*"], True),
        ("image/png", ["image/png"], True),
        ("image/png", ["image/jpeg"], False),
        ("image/png", ["*/*"], True),
        ("image/png", [], False),
        ("imagex/png", ["image/*"], False),
        ("application/pdf", ["application/pdf; q=1"], False),
        ("image/png, text/html", ["image/*"], False),
    ],
)
def test_content_type_allowed(content_type: str, patterns: list[str], allowed: bool) -> None:
    assert content_type_allowed(content_type, patterns) is allowed


# --- the shipped manifest with the rules ---------------------------------------------------------


def test_the_shipped_manifest_works_with_the_rules() -> None:
    manifest = load_manifest(REPO_ROOT / "integreat.toml")
    storage = {app.slug: app.storage for app in manifest.apps}
    organizer = Actor("events", "u-o", ("member", "organizer"))
    key = "events/posters/summer.jpg"

    verdict = decide_write(key, size=2 * MB, content_type="image/jpeg", actor=organizer, storage=storage)

    assert verdict.allowed
    assert verdict.app == "events"
    assert not decide_write(
        key, size=2 * MB, content_type="image/jpeg", actor=MEMBER, storage=storage
    ).allowed


# --- folder_key ---------------------------------------------------------------------------------

HOSTILE = [
    "../../x",
    "a/b",
    "a\\b",
    "..\\..\\windows\\system32",
    "\x00",
    "\x00.png",
    "",
    ".",
    "..",
    "...",
    "/",
    "x/",
    "x" * 5000,
    "x" * 5000 + ".pdf",
    "é" * 3000,
    "日本語のファイル.pdf",
    "résumé final.docx",
    "\u202egnp.exe",
    "a\ud800b",
    "%2e%2e%2fx",
    "con",
    " ",
    "-",
    "ﷺ" * 300,
]


def _assert_inside(key: str, app: str, folder: FolderRule, owner: str | None) -> None:
    prefix = f"{app}/{folder.path.replace('{user}', owner or '')}"
    assert key.startswith(prefix), key
    assert "/" not in key[len(prefix) :]
    assert key_problem(key) is None, key
    name = key[len(prefix) :]
    assert name not in ("", ".", "..")
    assert len(name.encode()) <= 13 + MAX_FILENAME_BYTES
    where = locate(key, STORAGE)
    assert (where.allowed, where.app, where.folder, where.owner) == (True, app, folder, owner)


@pytest.mark.parametrize("filename", HOSTILE)
def test_folder_key_stays_in_its_folder(filename: str) -> None:
    _assert_inside(folder_key("church", UPLOADS, filename, owner=None), "church", UPLOADS, None)
    _assert_inside(folder_key("church", PRIVATE, filename, owner="u-1"), "church", PRIVATE, "u-1")


def test_folder_key_shape() -> None:
    key = folder_key("church", UPLOADS, "../../My Photo (1).PNG", owner=None)

    prefix, random_id, name = key[:15], key[15:27], key[28:]
    assert prefix == "church/uploads/"
    assert re.fullmatch("[0-9a-f]{12}", random_id)
    assert key[27] == "-"
    assert name == "My-Photo-1-.PNG"
    assert folder_key("church", UPLOADS, "a.png", owner=None) != folder_key(
        "church", UPLOADS, "a.png", owner=None
    )


def test_folder_key_ignores_an_owner_for_a_shared_folder() -> None:
    assert folder_key("church", UPLOADS, "a.png", owner="u-1").startswith("church/uploads/")


@pytest.mark.parametrize("owner", [None, "", "a/b", "..", ".", "u\x00", "u\\1"])
def test_folder_key_needs_a_usable_owner_for_a_user_folder(owner: str | None) -> None:
    with pytest.raises(ValueError, match="per user"):
        folder_key("church", PRIVATE, "a.png", owner=owner)


@pytest.mark.parametrize("app", ["", "Church", "church/..", "../church", "a/b"])
def test_folder_key_refuses_a_bad_app(app: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - InvalidSlugError, a ValueError, with the slug's own wording
        folder_key(app, UPLOADS, "a.png", owner=None)


def test_folder_key_refuses_a_key_over_s3s_limit() -> None:
    deep = FolderRule("a/" * 99 + "{user}/", "owner", "owner", ("*/*",), 1)

    with pytest.raises(ValueError, match="bytes of UTF-8"):
        folder_key("church", deep, "a.png", owner="u" * 900)


@pytest.mark.parametrize(
    ("filename", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cv.docx", "cv.docx"),
        ("a  b\tc.txt", "a-b-c.txt"),
        ("Café.PNG", "Cafe.PNG"),
        ("..", "file"),
        ("", "file"),
        ("\x00", "file"),
        ("-.-", "file"),
    ],
)
def test_safe_filename(filename: str, safe: str) -> None:
    assert safe_filename(filename) == safe


def test_safe_filename_keeps_the_extension_when_it_cuts() -> None:
    name = safe_filename("x" * 5000 + ".pdf")

    assert len(name) == MAX_FILENAME_BYTES
    assert name.endswith("x.pdf")


def test_folder_key_on_random_filenames() -> None:
    rng = random.Random(0)
    alphabet = "ab./\\-_ %+~:;*?\"'<>|\x00\x01\x1f\x7f\x85\u202e\u2028é日\ud800\U0001f600{}"
    for _ in range(500):
        filename = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
        folder, owner = rng.choice(
            [(UPLOADS, None), (PUBLIC, None), (PRIVATE, "u-" + str(rng.randrange(10**9)))]
        )
        _assert_inside(folder_key("church", folder, filename, owner=owner), "church", folder, owner)


# --- several principals for one right (issue 18) --------------------------------------------------

ROTAS = FolderRule("rotas/", ("pastors", "volunteers"), "members", ("text/plain",), MB)
NOTES = FolderRule("notes/{user}/", "owner", ("owner", "pastors"), ("text/plain",), MB)
PARISH = {"parish": StorageSpec((ROTAS, NOTES))}
PASTOR = Actor("parish", "u-pastor", ("member", "pastors"))
HELPER = Actor("parish", "u-helper", ("member", "volunteers"))
ORGANIST = Actor("parish", "u-organist", ("member", "organists"))


def parish_write(key: str, actor: Actor | None) -> Verdict:
    return decide_write(key, size=10, content_type="text/plain", actor=actor, storage=PARISH)


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [(PASTOR, True), (HELPER, True), (ORGANIST, False), (Actor("church", "u-pastor", ("pastors",)), False)],
)
def test_any_listed_role_may_write(actor: Actor, allowed: bool) -> None:
    assert parish_write("parish/rotas/may.txt", actor).allowed is allowed


def test_a_refusal_names_every_listed_principal() -> None:
    refused = parish_write("parish/rotas/may.txt", ORGANIST)

    assert refused.reason == (
        "user u-organist of parish (member, organists) may not write parish/rotas/:"
        " only parish roles 'pastors' or 'volunteers' may"
    )
    assert (
        "only its owner u-pastor or parish role 'pastors' may"
        in decide_read("parish/notes/u-pastor/n.txt", actor=HELPER, storage=PARISH).reason
    )


def test_an_owner_or_a_listed_role_may_read_a_user_folder() -> None:
    key = "parish/notes/u-helper/n.txt"

    assert decide_read(key, actor=HELPER, storage=PARISH).allowed  # the owner
    assert decide_read(key, actor=PASTOR, storage=PARISH).allowed  # a listed role
    assert not decide_read(key, actor=ORGANIST, storage=PARISH).allowed
    assert not parish_write(key, PASTOR).allowed  # write is the owner's alone
    assert parish_write(key, HELPER).allowed


def test_judge_write_admits_any_listed_principal_of_a_located_key() -> None:
    # The consumer's path: locate once, then judge each uploader.
    where = locate("parish/rotas/may.txt", PARISH)

    verdicts = {
        actor.user_id: judge_write(where, size=10, content_type="text/plain", actor=actor).allowed
        for actor in (PASTOR, HELPER, ORGANIST)
    }

    assert verdicts == {"u-pastor": True, "u-helper": True, "u-organist": False}
