"""The README's configuration table is the settings table (chalicelib/settings.py), rendered.

Settings are declared once; this test keeps the README from drifting: it fails when a setting is
added, renamed or re-described without the README following, and prints the block to paste.
"""

from __future__ import annotations

from pathlib import Path

from chalicelib.settings import SETTINGS, Setting

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = (
    "<!-- settings: generated from chalicelib/settings.py; tests/unit/test_settings_readme.py checks it -->"
)
END = "<!-- end of settings -->"


def row(setting: Setting[object]) -> str:
    return f"| `{setting.env}` | {setting.meaning} | {setting.shown_default()} |"


def table() -> str:
    head = ["| variable | meaning | default |", "|---|---|---|"]
    return "\n".join([*head, *(row(s) for s in SETTINGS.values())])


def readme_block(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def test_the_readme_table_is_the_settings_table() -> None:
    expected = table()

    assert readme_block(README.read_text()) == expected, f"paste into README.md:\n{expected}"


def test_every_setting_and_its_fallback_is_listed() -> None:
    block = readme_block(README.read_text())

    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in block
        if setting.fallback:
            assert f"`{setting.fallback}`" in block


def test_the_block_finder_reads_between_the_markers() -> None:
    assert readme_block(f"x\n{BEGIN}\n| a |\n{END}\ny") == "| a |"
