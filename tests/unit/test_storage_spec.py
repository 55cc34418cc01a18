"""Unit tests for `[apps.<slug>.storage]`: the shipped folders, defaults, and every rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.storage.codec import from_json, to_json
from chalicelib.storage.spec import (
    GB,
    KB,
    MB,
    FolderRule,
    StorageSpec,
    folder_path_problem,
    folders_overlap,
    parse_size,
    principals,
    size_text,
)
from chalicelib.tenancy.manifest import ManifestError, ManifestIssue, load_manifest, parse_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
PLATFORM = '[platform]\nname = "integreat"\nregion = "eu-west-1"\n'
APP = '[apps.church]\nname = "Grace Church"\nroles = ["member", "volunteer", "admin"]\n'
STORAGE = "apps.church.storage"
OWN = 'apps.church.storage.folders."private/{user}/"'
UPLOADS = 'apps.church.storage.folders."uploads/"'


def storage_toml(body: str) -> str:
    """A valid platform and church app, plus the storage tables in `body`."""
    return f"{PLATFORM}\n{APP}\n{body}"


def folder(path: str, *lines: str, write: str = "members", read: str = "members") -> str:
    """One folder table; pass write/read as "" to leave the key out."""
    keys = [f'write = "{write}"' if write else "", f'read = "{read}"' if read else "", *lines]
    return f'[apps.church.storage.folders."{path}"]\n' + "".join(f"{k}\n" for k in keys if k)


def church_storage(body: str) -> StorageSpec:
    return parse_manifest(storage_toml(body)).app("church").storage


def issues_of(text: str) -> tuple[ManifestIssue, ...]:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "bad.toml")
    return caught.value.issues


DEFAULTS = '[apps.church.storage]\nmax_size = "10MB"\ncontent_types = ["image/*"]\n'


# --- the shipped manifest -----------------------------------------------------------------------


def test_shipped_manifest_declares_the_demo_folders() -> None:
    manifest = load_manifest(REPO_ROOT / "integreat.toml")

    church = {rule.path: rule for rule in manifest.app("church").storage.folders}
    events = {rule.path: rule for rule in manifest.app("events").storage.folders}
    students = {rule.path: rule for rule in manifest.app("students").storage.folders}

    assert church["public/"] == FolderRule(
        "public/", "admin", "members", ("image/*", "application/pdf"), 10 * MB
    )
    assert church["uploads/"] == FolderRule(
        "uploads/", "members", "members", ("image/*", "application/pdf", "text/plain"), 25 * MB
    )
    assert church["private/{user}/"] == FolderRule("private/{user}/", "owner", "owner", ("*/*",), 25 * MB)
    assert events["posters/"] == FolderRule("posters/", "organizer", "members", ("image/*",), 10 * MB)
    assert events["tickets/{user}/"] == FolderRule(
        "tickets/{user}/", "owner", "owner", ("application/pdf",), 2 * MB
    )
    materials = students["materials/"]
    assert (materials.write, materials.read, materials.max_size) == ("teacher", "members", 200 * MB)
    assert {"application/pdf", "video/*", "application/msword"} <= set(materials.content_types)
    assignments = students["assignments/{user}/"]
    assert (assignments.write, assignments.read, assignments.per_user) == ("owner", "teacher", True)
    assert "video/*" not in assignments.content_types


# --- valid storage tables -----------------------------------------------------------------------


def test_an_app_without_storage_has_no_folders() -> None:
    assert church_storage("") == StorageSpec(folders=())


def test_folders_inherit_the_storage_defaults_and_may_override_them() -> None:
    body = (
        DEFAULTS
        + folder("public/", write="admin")
        + folder("uploads/", "max_size = 1024", 'content_types = ["application/pdf", "text/*"]')
    )

    public, uploads = church_storage(body).folders

    assert public == FolderRule("public/", "admin", "members", ("image/*",), 10 * MB)
    assert uploads == FolderRule("uploads/", "members", "members", ("application/pdf", "text/*"), 1024)


def test_a_folder_may_state_everything_itself() -> None:
    body = folder("docs/", 'content_types = ["*/*"]', 'max_size = "5GB"', write="volunteer", read="member")

    assert church_storage(body).folders == (FolderRule("docs/", "volunteer", "member", ("*/*",), 5 * GB),)


def test_owner_folders_may_put_the_placeholder_anywhere() -> None:
    body = (
        DEFAULTS + folder("{user}/inbox/", write="owner", read="admin") + folder("a/b/{user}/", write="owner")
    )

    first, second = church_storage(body).folders

    assert first.per_user
    assert second.per_user
    assert (first.write, first.read) == ("owner", "admin")


def test_storage_with_only_defaults_and_no_folders_is_valid() -> None:
    assert church_storage(DEFAULTS) == StorageSpec()


@pytest.mark.parametrize(
    ("value", "size"),
    [(1, 1), ("1B", 1), ("3KB", 3 * KB), ("25MB", 25 * MB), ("5GB", 5 * GB), (5 * GB, 5 * GB)],
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size
    assert (
        church_storage(DEFAULTS + folder("x/", f"max_size = {value!r}".replace("'", '"'))).folders[0].max_size
        == size
    )


@pytest.mark.parametrize(
    ("size", "text"), [(25 * MB, "25 MB"), (25 * MB + 1, "26,214,401 bytes"), (1, "1 byte"), (2 * KB, "2 KB")]
)
def test_size_text(size: int, text: str) -> None:
    assert size_text(size) == text


# --- several principals for one right (issue 18) --------------------------------------------------


def test_a_right_may_list_several_principals_and_a_string_stays_one() -> None:
    body = (
        DEFAULTS
        + folder("rotas/", 'write = ["admin", "volunteer"]', write="")
        + folder("private/{user}/", 'read = ["owner", "admin"]', write="owner", read="")
        + folder("public/", write="admin")
    )

    rotas, private, public = church_storage(body).folders

    assert (rotas.write, rotas.read) == (("admin", "volunteer"), "members")
    assert (private.write, private.read) == ("owner", ("owner", "admin"))
    assert public.write == "admin"
    assert principals(rotas.write) == ("admin", "volunteer")
    assert principals(public.write) == ("admin",)


def test_a_list_of_one_is_that_principal() -> None:
    # One form per right, so that a rule compares equal however the manifest spelled it.
    [docs] = church_storage(DEFAULTS + folder("docs/", 'write = ["admin"]', write="")).folders

    assert docs.write == "admin"


def test_the_registry_keeps_lists_and_still_reads_the_old_single_string_rows() -> None:
    several = FolderRule("rotas/", ("admin", "volunteer"), "members", ("image/*",), 10 * MB)
    single = FolderRule("public/", "admin", "members", ("image/*",), 10 * MB)
    spec = StorageSpec((several, single))

    assert from_json(to_json(spec)) == spec
    stored = '{"folders": [{"path": "public/", "write": "admin", "read": "members", "content_types": ["image/*"], "max_size": 1024}]}'
    assert from_json(stored).folders[0].write == "admin"  # a row written before issue 18
    assert from_json(stored.replace('"admin"', '["admin", "volunteer"]')).folders[0].write == (
        "admin",
        "volunteer",
    )


# --- invalid storage tables: one case per rule --------------------------------------------------


def case(case_id: str, body: str, key: str, fragment: str, app: str = APP) -> object:
    return pytest.param(f"{PLATFORM}\n{app}\n{body}", key, fragment, id=case_id)


def path_case(case_id: str, path: str, fragment: str) -> object:
    key = f"apps.church.storage.folders.{path}" if path.isalnum() else f'apps.church.storage.folders."{path}"'
    return case(case_id, DEFAULTS + folder(path), key, fragment)


INVALID = [
    # the storage table
    case("storage-not-table", 'storage = "s3"\n', STORAGE, "must be a table of folder rules"),
    case(
        "storage-unknown-key",
        "[apps.church.storage]\nmaxsize = 1\n",
        f"{STORAGE}.maxsize",
        "did you mean 'max_size'",
    ),
    case("folders-not-table", "[apps.church.storage]\nfolders = []\n", f"{STORAGE}.folders", "got array []"),
    case(
        "folder-not-table",
        '[apps.church.storage.folders]\n"x/" = 1\n',
        f'{STORAGE}.folders."x/"',
        "must be a table",
    ),
    case(
        "folder-unknown-key",
        DEFAULTS + folder("x/", "owner = 1"),
        f'{STORAGE}.folders."x/".owner',
        "allowed: 'write'",
    ),
    # folder paths
    path_case("path-no-slash", "uploads", "must end with '/'"),
    path_case("path-root", "/", "empty segment"),
    path_case("path-leading-slash", "/uploads/", "empty segment"),
    path_case("path-empty-segment", "a//b/", "empty segment"),
    path_case("path-dot", "a/./", "'.' segment"),
    path_case("path-dotdot", "../", "'..' segment"),
    path_case("path-dotdot-inner", "a/../b/", "'..' segment"),
    path_case("path-upper", "Uploads/", "segment 'Uploads' must be a-z or 0-9"),
    path_case("path-space", "my files/", "segment 'my files'"),
    path_case("path-segment-too-long", "a" * 64 + "/", "up to 62"),
    path_case("path-too-long", "abcdefghi/" * 20 + "x/", "is 202 characters long; the limit is 200"),
    path_case("path-underscore", "_quarantine/", "the platform owns '_quarantine/'"),
    path_case("path-underscore-other", "_x/", "must not start with '_'"),
    path_case("path-partial-user", "private/u{user}/", "'{user}' must be a whole segment"),
    path_case("path-other-placeholder", "private/{owner}/", "must be a whole segment"),
    path_case("path-two-users", "{user}/{user}/", "more than one '{user}'"),
    path_case("path-backslash", "a\\\\b/", "segment 'a\\\\b'"),
    # overlaps
    case(
        "overlap-prefix",
        DEFAULTS + folder("uploads/") + folder("uploads/big/"),
        'apps.church.storage.folders."uploads/big/"',
        "overlaps folder 'uploads/': it lies inside that folder",
    ),
    case(
        "overlap-contains",
        DEFAULTS + folder("uploads/big/") + folder("uploads/"),
        UPLOADS,
        "overlaps folder 'uploads/big/': it contains that folder",
    ),
    case(
        "overlap-placeholder",
        DEFAULTS + folder("private/{user}/", write="owner") + folder("private/shared/"),
        'apps.church.storage.folders."private/shared/"',
        "'{user}' segment matches any name",
    ),
    case(
        "overlap-top-placeholder",
        DEFAULTS + folder("{user}/", write="owner") + folder("public/"),
        'apps.church.storage.folders."public/"',
        "overlaps folder '{user}/'",
    ),
    # write / read
    case("write-missing", DEFAULTS + folder("x/", write=""), f'{STORAGE}.folders."x/".write', "is required"),
    case("read-missing", DEFAULTS + folder("x/", read=""), f'{STORAGE}.folders."x/".read', "is required"),
    case(
        "write-type",
        DEFAULTS + folder("x/", write="") + "write = 1\n",
        f'{STORAGE}.folders."x/".write',
        "got integer 1",
    ),
    case(
        "write-unknown-role",
        DEFAULTS + folder("x/", write="teacher"),
        f'{STORAGE}.folders."x/".write',
        "must be one of 'members', 'member', 'volunteer', 'admin'; got 'teacher'",
    ),
    case(
        "read-unknown-role-owner-folder",
        DEFAULTS + folder("private/{user}/", write="owner", read="everyone"),
        f"{OWN}.read",
        "must be one of 'members', 'owner', 'member', 'volunteer', 'admin'; got 'everyone'",
    ),
    case(
        "owner-without-placeholder",
        DEFAULTS + folder("uploads/", write="owner"),
        f"{UPLOADS}.write",
        "'owner' needs a folder with a '{user}' segment",
    ),
    case(
        "read-owner-without-placeholder",
        DEFAULTS + folder("uploads/", read="owner"),
        f"{UPLOADS}.read",
        "'owner' needs a folder",
    ),
    case(
        "role-named-like-a-keyword",
        DEFAULTS + folder("private/{user}/", write="owner"),
        f"{OWN}.write",
        "'owner' is ambiguous: the app also has a role 'owner'",
        app='[apps.church]\nname = "G"\nroles = ["member", "owner"]\n',
    ),
    # write / read as a list of principals (issue 18)
    case(
        "write-list-unknown-role",
        DEFAULTS + folder("x/", 'write = ["admin", "pastor"]', write=""),
        f'{STORAGE}.folders."x/".write[1]',
        "must be one of 'members', 'member', 'volunteer', 'admin'; got 'pastor'",
    ),
    case(
        "write-list-empty",
        DEFAULTS + folder("x/", "write = []", write=""),
        f'{STORAGE}.folders."x/".write',
        "is an empty array, which admits nobody",
    ),
    case(
        "read-list-duplicate",
        DEFAULTS + folder("x/", 'read = ["admin", "volunteer", "admin"]', read=""),
        f'{STORAGE}.folders."x/".read[2]',
        "duplicate 'admin', first at read[0]; list it once",
    ),
    case(
        "write-list-not-string",
        DEFAULTS + folder("x/", 'write = ["admin", 1]', write=""),
        f'{STORAGE}.folders."x/".write[1]',
        "got integer 1",
    ),
    case(
        "write-list-owner-without-placeholder",
        DEFAULTS + folder("x/", 'write = ["admin", "owner"]', write=""),
        f'{STORAGE}.folders."x/".write[1]',
        "'owner' needs a folder with a '{user}' segment",
    ),
    case(
        "write-list-members-and-a-role",
        DEFAULTS + folder("x/", 'write = ["members", "admin"]', write=""),
        f'{STORAGE}.folders."x/".write',
        "'members' already admits every member",
    ),
    # content types
    case(
        "types-missing",
        folder("x/", 'max_size = "1MB"'),
        f'{STORAGE}.folders."x/".content_types',
        "is required",
    ),
    case(
        "types-empty",
        DEFAULTS + folder("x/", "content_types = []"),
        f'{STORAGE}.folders."x/".content_types',
        "non-empty",
    ),
    case(
        "types-not-array",
        DEFAULTS + folder("x/", 'content_types = "image/*"'),
        f'{STORAGE}.folders."x/".content_types',
        "\"application/pdf\"]; got 'image/*'",
    ),
    case(
        "types-default-empty",
        "[apps.church.storage]\ncontent_types = []\n",
        f"{STORAGE}.content_types",
        "non-empty",
    ),
    case(
        "type-not-string",
        DEFAULTS + folder("x/", "content_types = [1]"),
        f'{STORAGE}.folders."x/".content_types[0]',
        "got integer 1",
    ),
    case(
        "type-upper",
        DEFAULTS + folder("x/", 'content_types = ["Image/PNG"]'),
        f'{STORAGE}.folders."x/".content_types[0]',
        "lowercase",
    ),
    case(
        "type-no-slash",
        DEFAULTS + folder("x/", 'content_types = ["image"]'),
        f'{STORAGE}.folders."x/".content_types[0]',
        "'type/subtype'",
    ),
    case(
        "type-star-subtype",
        DEFAULTS + folder("x/", 'content_types = ["*/png"]'),
        f'{STORAGE}.folders."x/".content_types[0]',
        "got '*/png'",
    ),
    case(
        "type-params",
        DEFAULTS + folder("x/", 'content_types = ["text/plain; charset=utf-8"]'),
        f'{STORAGE}.folders."x/".content_types[0]',
        "RFC 6838",
    ),
    case(
        "type-bad-char",
        DEFAULTS + folder("x/", 'content_types = ["image/p(n)g"]'),
        f'{STORAGE}.folders."x/".content_types[0]',
        "RFC 6838",
    ),
    case(
        "type-duplicate",
        DEFAULTS + folder("x/", 'content_types = ["image/*", "image/*"]'),
        f'{STORAGE}.folders."x/".content_types[1]',
        "duplicate 'image/*', first at content_types[0]",
    ),
    # sizes
    case(
        "size-missing",
        folder("x/", 'content_types = ["*/*"]'),
        f'{STORAGE}.folders."x/".max_size',
        "there is no platform default",
    ),
    case(
        "size-zero",
        DEFAULTS + folder("x/", "max_size = 0"),
        f'{STORAGE}.folders."x/".max_size',
        "is 0 bytes; allowed: 1 B to 5 GB",
    ),
    case(
        "size-negative",
        DEFAULTS + folder("x/", "max_size = -1"),
        f'{STORAGE}.folders."x/".max_size',
        "allowed: 1 B to 5 GB",
    ),
    case(
        "size-over-s3",
        DEFAULTS + folder("x/", 'max_size = "6GB"'),
        f'{STORAGE}.folders."x/".max_size',
        "S3's limit",
    ),
    case(
        "size-one-over-s3",
        DEFAULTS + folder("x/", f"max_size = {5 * GB + 1}"),
        f'{STORAGE}.folders."x/".max_size',
        "5,368,709,121 bytes",
    ),
    case(
        "size-unit-case",
        DEFAULTS + folder("x/", 'max_size = "10mb"'),
        f'{STORAGE}.folders."x/".max_size',
        "got '10mb'",
    ),
    case(
        "size-decimal",
        DEFAULTS + folder("x/", 'max_size = "1.5GB"'),
        f'{STORAGE}.folders."x/".max_size',
        '"10MB"',
    ),
    case(
        "size-space",
        DEFAULTS + folder("x/", 'max_size = "10 MB"'),
        f'{STORAGE}.folders."x/".max_size',
        "got '10 MB'",
    ),
    case(
        "size-float",
        DEFAULTS + folder("x/", "max_size = 1.5"),
        f'{STORAGE}.folders."x/".max_size',
        "got float 1.5",
    ),
    case(
        "size-bool",
        DEFAULTS + folder("x/", "max_size = true"),
        f'{STORAGE}.folders."x/".max_size',
        "got boolean true",
    ),
    case("size-default-bad", '[apps.church.storage]\nmax_size = "big"\n', f"{STORAGE}.max_size", "got 'big'"),
    case(
        "size-unit-tb",
        DEFAULTS + folder("x/", 'max_size = "1TB"'),
        f'{STORAGE}.folders."x/".max_size',
        "B, KB, MB or GB",
    ),
]


@pytest.mark.parametrize(("text", "key", "fragment"), INVALID)
def test_invalid_storage_is_reported_with_key_and_reason(text: str, key: str, fragment: str) -> None:
    issues = issues_of(text)

    matching = [issue for issue in issues if issue.key == key]
    assert matching, f"no issue for {key!r}; got {issues}"
    assert any(fragment in issue.message for issue in matching), matching


def test_a_bad_default_is_reported_once_not_again_for_every_folder() -> None:
    text = storage_toml(
        '[apps.church.storage]\nmax_size = "big"\ncontent_types = ["image/*"]\n' + folder("a/") + folder("b/")
    )

    assert [issue.key for issue in issues_of(text)] == [f"{STORAGE}.max_size"]


def test_bad_roles_do_not_also_flag_every_role_in_storage() -> None:
    text = (
        f'{PLATFORM}\n[apps.church]\nname = "G"\nroles = ["admin"]\n{DEFAULTS}{folder("x/", write="admin")}'
    )

    assert [issue.key for issue in issues_of(text)] == ["apps.church.roles"]


def test_every_storage_problem_in_one_pass() -> None:
    body = (
        '[apps.church.storage]\nmax_size = "10MB"\n'
        + folder("Up/", write="boss")
        + folder("private/{user}/", 'content_types = ["image/*"]', write="owner", read="owner")
        + folder("private/{user}/x/", 'content_types = ["*/*"]', write="owner")
    )

    keys = [issue.key for issue in issues_of(storage_toml(body))]

    assert keys == [
        'apps.church.storage.folders."Up/"',
        'apps.church.storage.folders."Up/".write',
        'apps.church.storage.folders."Up/".content_types',
        'apps.church.storage.folders."private/{user}/x/"',
    ]


def test_a_hostile_folder_path_stays_on_one_line() -> None:
    text = storage_toml(
        DEFAULTS + '[apps.church.storage.folders."a\\n/"]\nwrite = "members"\nread = "members"\n'
    )

    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "m.toml")

    assert caught.value.issues[0].key == 'apps.church.storage.folders."a\\n/"'
    assert len(str(caught.value).splitlines()) == len(caught.value.issues)


# --- the pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["public/", "private/{user}/", "{user}/", "a-b/c_d/9/", "x" * 63 + "/"])
def test_good_folder_paths(path: str) -> None:
    assert folder_path_problem(path) is None


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("uploads/", "uploads/big/", True),
        ("uploads/", "uploadsbig/", False),
        ("uploads/", "upload/", False),
        ("private/{user}/", "private/admin/", True),
        ("private/{user}/", "public/{user}/", False),
        ("{user}/a/", "b/{user}/", True),  # "b/a/x" is in both
        ("{user}/a/", "b/{user}/a/", True),  # "b/a/a/x" is in both
        ("{user}/a/", "b/c/", False),
        ("{user}/", "public/", True),
    ],
)
def test_folders_overlap(a: str, b: str, overlap: bool) -> None:
    assert folders_overlap(a, b) is overlap
    assert folders_overlap(b, a) is overlap


@pytest.mark.parametrize("value", ["", "MB", "-1MB", "1.0MB", "1 MB", "1mb", "1TB", None, True, 1.0, [1]])
def test_parse_size_refuses(value: object) -> None:
    assert parse_size(value) is None
