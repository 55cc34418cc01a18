"""`integreat outputs` maps a folder right with several principals (issue 18) to one Amplify
access key per principal: each role's group gets the right, nobody else does."""

from __future__ import annotations

from chalicelib.storage.model import FolderRule
from integreat.outputs import access_rule, storage_path


def test_two_writer_roles_both_get_write_and_members_only_read() -> None:
    folder = FolderRule("rota/", ("pastors", "volunteers"), "members", ("*/*",), 1024)
    assert access_rule("church", folder) == {
        "groupschurch-pastors": ["write"],
        "groupschurch-volunteers": ["write"],
        "authenticated": ["get", "list"],
    }
    assert storage_path("church", folder) == "church/rota/*"


def test_a_single_principal_string_maps_as_before_and_owners_read_their_folder() -> None:
    folder = FolderRule("private/{user}/", "owner", ("owner", "admin"), ("*/*",), 1024)
    assert access_rule("church", folder) == {
        "entityidentity": ["get", "list", "write"],
        "groupschurch-admin": ["get", "list"],
    }
    assert storage_path("church", folder) == "church/private/{entity_id}/*"
