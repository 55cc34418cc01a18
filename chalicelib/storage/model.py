"""Storage's value types, alone: the registry imports them at every cold start, so they live
apart from the parser and its regular expressions (chalicelib/storage/spec.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

USER = "{user}"  # the per-user segment of a folder path
#: Where an app's objects live (`bucket = ...` in `[apps.<slug>.storage]`): its folder `<slug>/` of
#: the stage's shared bucket, or a bucket of its own (chalicelib/storage/placement.py names it).
SHARED = "shared"
DEDICATED = "dedicated"
PLACEMENTS = (SHARED, DEDICATED)

#: Who holds a folder right: one principal (MEMBERS, OWNER or one of the app's roles), or several,
#: any of whom is admitted (issue 18: Amplify lets two groups write one path). One principal stays
#: a plain string, so manifests and registry rows written before lists existed read back equal.
Access = str | tuple[str, ...]


def principals(access: Access) -> tuple[str, ...]:
    """The principals of a right, whichever form it is written in.

    >>> principals("admin"), principals(("pastors", "volunteers"))
    (('admin',), ('pastors', 'volunteers'))
    """
    return (access,) if isinstance(access, str) else access


def access_of(names: Iterable[str]) -> Access:
    """The one form of a right: a lone principal as a string, several as a tuple, in order.

    >>> access_of(["admin"]), access_of(["pastors", "volunteers"])
    ('admin', ('pastors', 'volunteers'))
    """
    found = tuple(names)
    return found[0] if len(found) == 1 else found


class FolderRule(NamedTuple):
    """One folder of an app: where it is, who may write and read it, and what it accepts."""

    path: str  # relative to the app folder `<slug>/`, ends with "/": "public/", "private/{user}/"
    write: Access  # MEMBERS, OWNER or the app's roles: any one of them may write
    read: Access  # the same vocabulary; in a `{user}` folder its owner may always read
    content_types: tuple[str, ...]  # "type/subtype", "type/*" or "*/*"
    max_size: int  # bytes

    @property
    def per_user(self) -> bool:
        """True for a folder with a `{user}` segment: one folder per user, owned by that user."""
        return USER in self.path


class StorageSpec(NamedTuple):
    """An app's folders and their placement. No folder declared: every upload is refused (deny
    by default). The keys are `<slug>/<folder>/...` whichever bucket holds them."""

    folders: tuple[FolderRule, ...] = ()
    bucket: str = SHARED  # SHARED or DEDICATED

    @property
    def dedicated(self) -> bool:
        return self.bucket == DEDICATED
