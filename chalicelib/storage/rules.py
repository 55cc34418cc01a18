"""The one place that decides whether a key may be written or read, and why (issue 4).

Pure: no IO, no clock. The upload API asks before it signs an upload or a download; the
storage-events consumer asks again after S3 says an object arrived (an app's IAM role can put
any key under `<slug>/`, so the event is where the folder rules are enforced for every writer).

Keys here are *decoded* keys. S3 event notifications carry keys URL-encoded with spaces as '+';
decoding them exactly once (`urllib.parse.unquote_plus`) is the event layer's job
(`chalicelib.storage.events`, design decision 2). Nothing here decodes again: a literal
`church%2F..%2Fx` is one segment named that, at the top level, not a way out of `church/`.

Who may do what, for a key `<app>/<folder><rest>` (the principals themselves: `access`):
- the platform admin: write and read in every app folder (the folder's content types and size
  limit still apply to writes), and read `_quarantine/`, which nobody writes through here;
- a folder's `write` and `read` name one principal or several ("members", "owner", roles): a
  caller any one of them admits may;
- in a `{user}` folder the owner may always read their own files, whatever `read` says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from chalicelib.storage.access import Actor as Actor  # part of this API
from chalicelib.storage.access import Place, refusal
from chalicelib.storage.access import quote as _quote
from chalicelib.storage.access import who as _who
from chalicelib.storage.spec import ANY_TYPE, USER, FolderRule, StorageSpec, size_text
from chalicelib.storage.spec import content_type_allowed as content_type_allowed  # part of this API
from chalicelib.tenancy.slugs import validate_slug

#: S3's limit on a key: 1,024 bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: Rejected uploads are moved here by the platform, keeping their key: `_quarantine/<key>`.
QUARANTINE_PREFIX = "_quarantine/"
#: The longest file name `folder_key` keeps (bytes; the name is ASCII by then).
MAX_FILENAME_BYTES = 200
_FILENAME_FALLBACK = "file"
_KEEP_EXTENSION = 16  # a longer "extension" is just part of the name when the name is cut

# C0 controls, DEL and C1 controls break logs, terminals and some S3 tools (AWS lists them among
# the characters to avoid in keys). Backslashes are refused too: Windows clients split on them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SEPARATORS = re.compile(r"[/\\]")


class Verdict(NamedTuple):
    """Allowed or not, and a precise reason a person can act on."""

    allowed: bool
    reason: str
    app: str | None = None  # the app whose folder the key is in, when known
    folder: FolderRule | None = None
    owner: str | None = None  # the `{user}` segment's value, when the folder has one


def key_problem(key: str) -> str | None:
    """What makes a decoded key unacceptable anywhere in the bucket, or None.

    >>> key_problem("church/public/a b+c.txt") is None
    True
    >>> key_problem("church/../events/x")
    "key has a '..' segment"
    """
    if not key:
        return "key is empty"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "key is not valid Unicode (it contains a lone surrogate)"
    if size > MAX_KEY_BYTES:
        return f"key is {size:,} bytes of UTF-8; S3's limit is {MAX_KEY_BYTES:,}"
    if "\\" in key:
        return "key contains a backslash"
    control = _CONTROL.search(key)
    if control is not None:
        return f"key contains control character U+{ord(control.group()):04X}"
    if key.endswith("/"):
        return "key ends with '/' (a folder object); a key must name a file"
    if key.startswith("/") or "//" in key:
        return "key has an empty segment (a leading '/' or '//')"
    wrapped = f"/{key}/"
    for dots in ("..", "."):
        if f"/{dots}/" in wrapped:
            return f"key has a {dots!r} segment"
    return None


def locate(key: str, storage: Mapping[str, StorageSpec]) -> Verdict:
    """The app and folder a key is in (`allowed`), or why it is in none.

    `storage` maps each active app's slug to its folders. `app` is set whenever the key is in a
    known app's folder `<app>/`, even if it matches none of its folders.
    """
    problem = key_problem(key)
    if problem is not None:
        return Verdict(False, problem)
    if key.startswith(QUARANTINE_PREFIX):
        return Verdict(False, "key is in '_quarantine/': only the platform moves objects there")
    app, slash, rest = key.partition("/")
    spec = storage.get(app) if slash else None
    if spec is None:
        where = f"{_quote(app)} is not an app" if slash else "it has no '<app>/' prefix"
        return Verdict(False, f"key lies outside every app folder: {where}")
    segments = rest.split("/")
    for folder in spec.folders:
        owner = _match(folder.path, segments)
        if owner is not None:
            return Verdict(True, f"key is in {app}/{folder.path}", app, folder, owner or None)
    declared = ", ".join(repr(f.path) for f in spec.folders) or "none: uploads are refused"
    return Verdict(False, f"key is in no folder of {app} (its folders: {declared})", app)


def decide_write(
    key: str,
    *,
    size: int | None,
    content_type: str | None,
    actor: Actor | None,
    storage: Mapping[str, StorageSpec],
) -> Verdict:
    """May `actor` put an object of `size` bytes and `content_type` at `key`?"""
    verdict = judge_write(locate(key, storage), size=size, content_type=content_type, actor=actor)
    if verdict.allowed and verdict.folder is not None:
        return verdict._replace(reason=f"{_who(actor)} may write {verdict.app}/{verdict.folder.path}")
    return verdict


def judge_write(
    where: Verdict, *, size: int | None, content_type: str | None, actor: Actor | None
) -> Verdict:
    """`decide_write` for a key already `locate`d (the consumer locates once, per event)."""
    if not where.allowed or where.folder is None or where.app is None:
        return where
    refused = refusal("write", where.folder.write, actor, Place(where.app, where.folder.path, where.owner))
    if refused is None:
        refused = _content_refusal(where.folder, f"{where.app}/{where.folder.path}", size, content_type)
    if refused is not None:
        return where._replace(allowed=False, reason=refused)
    # The consumer runs this per event: an allowed verdict keeps locate's reason, unformatted.
    return where


def decide_read(key: str, *, actor: Actor | None, storage: Mapping[str, StorageSpec]) -> Verdict:
    """May `actor` read the object at `key`?"""
    if key.startswith(QUARANTINE_PREFIX) and key_problem(key) is None:
        if actor is not None and actor.is_admin:
            return Verdict(True, "the platform admin may read '_quarantine/'")
        return Verdict(False, "only the platform admin may read '_quarantine/'")
    where = locate(key, storage)
    if not where.allowed or where.folder is None or where.app is None:
        return where
    if (
        actor is not None
        and actor.app == where.app
        and actor.user_id is not None
        and actor.user_id == where.owner
    ):
        return where._replace(
            reason=f"{_who(actor)} owns {where.app}/{where.folder.path} and may always read it"
        )
    refused = refusal("read", where.folder.read, actor, Place(where.app, where.folder.path, where.owner))
    if refused is not None:
        return where._replace(allowed=False, reason=refused)
    return where._replace(reason=f"{_who(actor)} may read {where.app}/{where.folder.path}")


def folder_key(app: str, folder: FolderRule, filename: str, *, owner: str | None) -> str:
    """The key the server picks for an upload of `filename` into `folder` of `app`.

    `<app>/<folder, {user} = owner><random id>-<safe file name>`; the random id keeps two uploads
    of one name apart. Raises ValueError for a per-user folder without a usable `owner` (it is
    ignored for other folders), or if the key would break `key_problem`.

    >>> rule = FolderRule("private/{user}/", "owner", "owner", ("*/*",), 1024)
    >>> folder_key("church", rule, "../../Café menu.pdf", owner="u-1")  # doctest: +ELLIPSIS
    'church/private/u-1/...-Cafe-menu.pdf'
    """
    import secrets  # here: it loads hmac and hashlib, which the event path never needs

    validate_slug(app)
    path = folder.path
    if folder.per_user:
        if not owner or "/" in owner or key_problem(owner) is not None:
            raise ValueError(f"folder {path!r} is per user: the owner must be one key segment; got {owner!r}")
        path = path.replace(USER, owner)
    key = f"{app}/{path}{secrets.token_hex(6)}-{safe_filename(filename)}"
    problem = key_problem(key)
    if problem is not None:
        raise ValueError(f"cannot store {filename!r} in {app}/{folder.path}: {problem}")
    return key


def safe_filename(filename: str) -> str:
    """A file name reduced to a safe basename: A-Z a-z 0-9 . _ -, at most 200 bytes, never empty.

    >>> safe_filename("../../etc/pass wd"), safe_filename(".."), safe_filename("résumé.PDF")
    ('pass-wd', 'file', 'resume.PDF')
    """
    import unicodedata  # here: only uploads name files

    base = _SEPARATORS.split(filename)[-1]
    # Decompose accents so that "é" keeps its "e"; what is still not ASCII becomes "-".
    base = "".join(c for c in unicodedata.normalize("NFKD", base) if not unicodedata.combining(c))
    name = _UNSAFE_NAME.sub("-", base)
    if not name.strip(".-"):
        return _FILENAME_FALLBACK
    if len(name) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= _KEEP_EXTENSION:
        return f"{stem[: MAX_FILENAME_BYTES - len(extension) - 1]}.{extension}"
    return name[:MAX_FILENAME_BYTES]


# --- helpers ------------------------------------------------------------------------------------


def _match(path: str, segments: list[str]) -> str | None:
    """The owner ('' for a folder without `{user}`) if the key's `segments` lie in folder `path`."""
    folder = path[:-1].split("/")
    if len(segments) <= len(folder):  # the key must name a file inside the folder
        return None
    owner = ""
    for want, got in zip(folder, segments, strict=False):
        if want == USER:
            owner = got
        elif want != got:
            return None
    return owner


def _content_refusal(
    folder: FolderRule, place: str, size: int | None, content_type: str | None
) -> str | None:
    if content_type is None:
        if ANY_TYPE not in folder.content_types:
            return f"content type unknown; {place} accepts only {', '.join(folder.content_types)}"
    elif not content_type_allowed(content_type, folder.content_types):
        accepted = ", ".join(folder.content_types)
        return f"content type {_quote(content_type)} is not accepted in {place}; allowed: {accepted}"
    if size is None:
        return f"size unknown; {place} accepts files of at most {size_text(folder.max_size)}"
    if size < 0:
        return f"size {size} is negative"
    if size > folder.max_size:
        return f"size {size_text(size)} exceeds {place} limit of {size_text(folder.max_size)}"
    return None
