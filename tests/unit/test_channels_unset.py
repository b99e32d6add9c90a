"""Starting xbr without any notification channel says so in one line; any channel hushes it."""

from __future__ import annotations

from pathlib import Path

from notifications.channels import unset_warning
from states.settings import Settings


def test_no_channel_is_one_line_naming_both_fixes(tmp_path: Path) -> None:
    said = unset_warning(Settings(home=tmp_path, smtp_url=""))
    assert said is not None
    assert "\n" not in said
    assert "XBR_SMTP_URL" in said
    assert str(tmp_path / "apprise.yaml") in said
    assert "xbr outbox list" in said


def test_an_smtp_url_or_an_apprise_file_is_a_channel(tmp_path: Path) -> None:
    assert unset_warning(Settings(home=tmp_path, smtp_url="mailto://127.0.0.1:25")) is None
    (tmp_path / "apprise.yaml").write_text("urls: []\n")
    assert unset_warning(Settings(home=tmp_path, smtp_url="")) is None
