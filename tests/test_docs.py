"""The README documents every setting and every `inbox` command."""

from pathlib import Path

from inbox.cli import main
from inbox.settings import SETTINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table_with_its_default():
    for setting in SETTINGS:
        row = next((line for line in README.splitlines() if line.startswith(f"| `{setting.env}` |")), None)
        assert row is not None, f"{setting.env} missing from README"
        if setting.default:
            assert f"`{setting.default}`" in row, f"{setting.env}: README default differs"


def test_every_cli_command_is_in_the_readme():
    for name in main.commands:
        assert f"`inbox {name}" in README, f"inbox {name} missing from README"
