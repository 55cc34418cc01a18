"""The storage error tree (the API edge maps these to 400 and 403)."""

from __future__ import annotations


class StorageError(Exception):
    """Base of storage errors."""


class StorageRequestError(StorageError, ValueError):
    """The request is malformed (400): a folder that does not exist, a bad key or file name."""


class StorageRefusal(StorageError, PermissionError):
    """The folder rules refuse this caller (403); the reason says which rule."""
