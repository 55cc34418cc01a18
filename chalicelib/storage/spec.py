"""An app's storage folders, as declared by `[apps.<slug>.storage]`, and the parser of that table.

The model is read at run time (the registry carries each app's folders, see `codec`), so it is
made of NamedTuples and this module imports nothing beyond `re` and `typing`: it sits on the
storage Lambdas' cold-start path. The parser only runs for the manifest (operator tooling and
provisioning); it reads through the `Table` it is handed, so the TOML reader is never imported
here at run time.

    [apps.church.storage]
    bucket = "shared"                  # or "dedicated": a bucket of the app's own (placement.py)
    max_size = "10MB"                  # default for its folders
    content_types = ["image/*"]        # default for its folders (no platform default: deny)
    [apps.church.storage.folders."private/{user}/"]
    write = "owner"
    read = "owner"
    [apps.church.storage.folders."rotas/"]
    write = ["admin", "volunteer"]     # any of them; a single principal may stay a string
    read = "members"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from chalicelib.storage.model import PLACEMENTS, SHARED, access_of
from chalicelib.storage.model import USER as USER
from chalicelib.storage.model import Access as Access
from chalicelib.storage.model import FolderRule as FolderRule
from chalicelib.storage.model import StorageSpec as StorageSpec
from chalicelib.storage.model import principals as principals

if TYPE_CHECKING:
    from chalicelib.tenancy.toml_reader import Table

#: In a folder path, the segment that stands for the Cognito `sub` of the user who owns it.
#: Access values besides the app's roles: any member of the app; the user a `{user}` folder is for.
MEMBERS = "members"
OWNER = "owner"
ANY_TYPE = "*/*"

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
#: S3's limit for a single PUT or presigned POST (larger objects need multipart upload).
MAX_OBJECT_SIZE = 5 * GB
MAX_FOLDER_PATH = 200
FOLDER_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# RFC 6838 section 4.2 restricted-name, lowercase: a letter or digit, then up to 126 of these.
_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
#: A concrete media type, as an upload declares it (after lowercasing, without parameters).
MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")
#: What a folder may accept: "type/subtype", "type/*" or "*/*".
MEDIA_RANGE = re.compile(rf"\*/\*|{_NAME}/\*|{_NAME}/{_NAME}")
_T = TypeVar("_T")
_SIZE = re.compile(r"([0-9]{1,13})(B|KB|MB|GB)")
_UNITS = {"B": 1, "KB": KB, "MB": MB, "GB": GB}

STORAGE_KEYS = ("bucket", "max_size", "content_types", "folders")
FOLDER_KEYS = ("write", "read", "content_types", "max_size")
_SIZE_RULE = 'integer bytes, or a string such as "10MB" (B, KB, MB or GB; 1 KB = 1024 B), from 1 B to 5 GB'
_TYPES_RULE = 'a non-empty array of media types such as ["image/*", "application/pdf"]'
_PLACEMENT_RULE = (
    f"{PLACEMENTS[0]!r} (the app's folder of the stage's one bucket, the default) or {PLACEMENTS[1]!r}"
    " (a bucket of the app's own, named <platform>-<stage>-app-<slug>-<account id>)"
)
_TYPE_RULE = "a lowercase media type: 'type/subtype', 'type/*' or '*/*' (RFC 6838: a-z, 0-9, !#$&^_.+-)"


def folder_segments(path: str) -> list[str]:
    """'private/{user}/' -> ['private', '{user}']."""
    return path[:-1].split("/")


def folder_path_problem(path: str) -> str | None:
    """What is wrong with a folder path from the manifest, or None."""
    if not path.endswith("/"):
        return "must end with '/', such as 'uploads/'"
    if len(path) > MAX_FOLDER_PATH:
        return f"is {len(path)} characters long; the limit is {MAX_FOLDER_PATH}"
    if path.startswith("_"):
        return "must not start with '_': the platform owns '_quarantine/' and any future '_' folder"
    segments = folder_segments(path)
    if segments.count(USER) > 1:
        return f"has more than one {USER!r} segment; one folder belongs to one user"
    return next((p for p in map(_segment_problem, segments) if p), None)


def _segment_problem(segment: str) -> str | None:
    if not segment:
        return "has an empty segment (a leading '/' or '//')"
    if segment in (".", ".."):
        return f"has a {segment!r} segment"
    if segment == USER or FOLDER_SEGMENT.fullmatch(segment):
        return None
    if "{" in segment or "}" in segment:
        return f"{USER!r} must be a whole segment, such as 'private/{USER}/'; got segment {segment!r}"
    return f"segment {segment!r} must be a-z or 0-9, then up to 62 of a-z, 0-9, '_' and '-'"


def folders_overlap(a: str, b: str) -> bool:
    """True if one folder lies inside the other, a `{user}` segment matching any name."""
    pairs = zip(folder_segments(a), folder_segments(b), strict=False)
    return all(x == y or USER in (x, y) for x, y in pairs)


def content_type_allowed(content_type: str, patterns: Sequence[str]) -> bool:
    """Does `content_type` match one of `patterns` ("type/subtype", "type/*", "*/*")?

    Case-insensitive; parameters are ignored; a malformed content type matches nothing.

    >>> content_type_allowed("Image/PNG; charset=binary", ["image/*"])
    True
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if not MEDIA_TYPE.fullmatch(media):
        return False
    kind = media.split("/", 1)[0] + "/*"
    return any(pattern.lower() in (media, kind, ANY_TYPE) for pattern in patterns)


def parse_size(value: object) -> int | None:
    """Bytes from an integer or "<n>B|KB|MB|GB" (1 KB = 1024 B); None if it is neither.

    >>> parse_size("25MB"), parse_size(512), parse_size("1.5GB")
    (26214400, 512, None)
    """
    if isinstance(value, bool):  # TOML `true` is a bool, and bool is an int in Python
        return None
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    return int(match[1]) * _UNITS[match[2]] if match else None


def size_text(size: int) -> str:
    """A size for a message: '25 MB' when it is a whole number of a unit, else '26,214,401 bytes'."""
    for unit, factor in (("GB", GB), ("MB", MB), ("KB", KB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return "1 byte" if size == 1 else f"{size:,} bytes"


# --- the manifest parser -------------------------------------------------------------------------


class _Defaults(NamedTuple):
    """The storage table's defaults for its folders, and whether each key was written at all."""

    max_size: int | None
    content_types: tuple[str, ...] | None
    written: frozenset[str]


def parse_storage(app: Table, roles: tuple[str, ...] | None) -> StorageSpec | None:
    """The app's `storage` table; None if it breaks a rule (each problem is reported on `app`).

    `roles` are the app's roles, or None when they are themselves invalid (then role names in
    `write` and `read` are not checked, to avoid reporting one mistake twice).
    """
    table = app.table("storage", "a table of folder rules, written [apps.<slug>.storage]", default={})
    if table is None:
        return None
    before = len(table.issues)
    table.check_keys(STORAGE_KEYS)
    placement = _placement(table)
    defaults = _Defaults(
        _max_size(table) if "max_size" in table.values else None,
        _content_types(table) if "content_types" in table.values else None,
        frozenset(table.values),
    )
    allowed = 'a table of folders keyed by path, written [apps.<slug>.storage.folders."<path>/"]'
    folders = table.table("folders", allowed, default={})
    if folders is None:
        return None
    rules = [_parse_folder(folders, path, defaults, roles) for path in folders.values]
    _check_overlaps(folders, [path for path in folders.values if folder_path_problem(path) is None])
    if len(table.issues) != before or placement is None:
        return None
    return StorageSpec(tuple(rule for rule in rules if rule is not None), placement)


def _placement(table: Table) -> str | None:
    value = table.text("bucket", _PLACEMENT_RULE, default=SHARED)
    if value is not None and value not in PLACEMENTS:
        table.reject("bucket", _PLACEMENT_RULE, value)
        return None
    return value


def _parse_folder(
    folders: Table, path: str, defaults: _Defaults, roles: tuple[str, ...] | None
) -> FolderRule | None:
    problem = folder_path_problem(path)
    if problem is not None:
        folders.report(path, f"invalid folder path: {problem}")
    table = folders.table(path, 'a table, written [apps.<slug>.storage.folders."<path>/"]')
    if table is None:
        return None
    table.check_keys(FOLDER_KEYS)
    write = _access(table, "write", USER in path, roles)
    read = _access(table, "read", USER in path, roles)
    content_types = (
        _content_types(table)
        if "content_types" in table.values
        else _inherited(table, "content_types", defaults.content_types, defaults.written)
    )
    max_size = (
        _max_size(table)
        if "max_size" in table.values
        else _inherited(table, "max_size", defaults.max_size, defaults.written)
    )
    if problem or write is None or read is None or content_types is None or max_size is None:
        return None
    return FolderRule(path, write, read, content_types, max_size)


def _inherited(table: Table, name: str, default: _T | None, written: frozenset[str]) -> _T | None:
    """The storage table's default for `name`; report its absence unless the default was itself bad."""
    if default is None and name not in written:
        where = "[apps.<slug>.storage] (the default of every folder)"
        table.report(name, f"is required: set it on this folder or in {where}; there is no platform default")
    return default


def _access(table: Table, name: str, per_user: bool, roles: tuple[str, ...] | None) -> Access | None:
    """`write` or `read`: one principal as a string, or an array of them (any one is admitted)."""
    value = table.values.get(name)
    if isinstance(value, list):
        return _principal_list(table, name, value, per_user, roles)
    text = table.text(name, _access_rule(per_user))
    if text is None or not _principal_ok(table, name, text, per_user, roles):
        return None
    return text


def _access_rule(per_user: bool) -> str:
    owner = f", {OWNER!r}" if per_user else f", {OWNER!r} (a folder with a {USER!r} segment only)"
    return f'{MEMBERS!r}{owner} or one of the app\'s roles, or an array of roles such as ["a", "b"]'


def _principal_list(
    table: Table, name: str, raw: list[object], per_user: bool, roles: tuple[str, ...] | None
) -> Access | None:
    if not raw:
        table.report(
            name, f"is an empty array, which admits nobody; name who may {name}, such as {MEMBERS!r}"
        )
        return None
    items = table.child(name)
    before = len(table.issues)
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            items.reject(index, f"a string: {_access_rule(per_user)}", item)
        elif item in seen:
            items.report(index, f"duplicate {item!r}, first at {name}[{seen[item]}]; list it once")
        elif _principal_ok(items, index, item, per_user, roles):
            seen[item] = index
    if MEMBERS in seen and len(seen) > 1:
        # Not harmless: a reader of the manifest could take the list for a restriction it is not.
        table.report(name, f"{MEMBERS!r} already admits every member, whatever their roles (and the owner):"
                           f" write {name} = {MEMBERS!r} alone")  # fmt: skip
    return access_of(seen) if len(table.issues) == before else None


def _principal_ok(
    table: Table, key: str | int, value: str, per_user: bool, roles: tuple[str, ...] | None
) -> bool:
    """Is `value` a principal of this folder? If not, the reason is reported at `key` of `table`."""
    if value in (MEMBERS, OWNER) and roles is not None and value in roles:
        table.report(key, f"{value!r} is ambiguous: the app also has a role {value!r}; rename the role")
        return False
    if value == OWNER and not per_user:
        table.report(key, f"{OWNER!r} needs a folder with a {USER!r} segment, such as 'private/{USER}/'")
        return False
    options = (MEMBERS, *((OWNER,) if per_user else ()), *(roles or ()))
    if value in options or (roles is None and value != OWNER):
        return True
    table.reject(key, "one of " + ", ".join(repr(option) for option in options), value)
    return False


def _content_types(table: Table) -> tuple[str, ...] | None:
    raw = table.values["content_types"]
    if not isinstance(raw, list) or not raw:
        table.reject("content_types", _TYPES_RULE, raw)
        return None
    items = table.child("content_types")
    before = len(table.issues)
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not MEDIA_RANGE.fullmatch(item):
            items.reject(index, _TYPE_RULE, item)
        elif item in seen:
            items.report(index, f"duplicate {item!r}, first at content_types[{seen[item]}]; list it once")
        else:
            seen[item] = index
    return tuple(seen) if len(table.issues) == before else None


def _max_size(table: Table) -> int | None:
    value = table.values["max_size"]
    size = parse_size(value)
    if size is None:
        table.reject("max_size", _SIZE_RULE, value)
    elif not 1 <= size <= MAX_OBJECT_SIZE:
        limit = "S3's limit for one PUT or POST upload"
        table.report("max_size", f"is {size:,} bytes; allowed: 1 B to {size_text(MAX_OBJECT_SIZE)} ({limit})")
        return None
    return size


def _check_overlaps(folders: Table, paths: list[str]) -> None:
    """Every key must belong to exactly one folder: report each folder that overlaps an earlier one."""
    for index, path in enumerate(paths):
        for earlier in paths[:index]:
            if folders_overlap(earlier, path):
                folders.report(path, f"overlaps folder {earlier!r}: {_overlap(earlier, path)}")
                break


def _overlap(earlier: str, path: str) -> str:
    if path.startswith(earlier) or earlier.startswith(path):
        how = "it lies inside that folder" if path.startswith(earlier) else "it contains that folder"
    else:
        how = f"a {USER!r} segment matches any name, so some keys would be in both"
    return f"{how}; a key must belong to exactly one folder"
