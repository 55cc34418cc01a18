"""Storage's value types, alone: the registry imports them at every cold start, so they live
apart from the parser and its regular expressions (chalicelib/storage/spec.py)."""

from __future__ import annotations

from typing import NamedTuple

USER = "{user}"  # the per-user segment of a folder path


class FolderRule(NamedTuple):
    """One folder of an app: where it is, who may write and read it, and what it accepts."""

    path: str  # relative to the app folder `<slug>/`, ends with "/": "public/", "private/{user}/"
    write: str  # MEMBERS, OWNER or one of the app's roles
    read: str  # the same vocabulary; in a `{user}` folder its owner may always read
    content_types: tuple[str, ...]  # "type/subtype", "type/*" or "*/*"
    max_size: int  # bytes

    @property
    def per_user(self) -> bool:
        """True for a folder with a `{user}` segment: one folder per user, owned by that user."""
        return USER in self.path


class StorageSpec(NamedTuple):
    """An app's folders. None declared: every upload is refused (deny by default)."""

    folders: tuple[FolderRule, ...] = ()
