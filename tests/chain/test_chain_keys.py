"""Gateway keystore: create, unlock with a 0600 password file or the environment, refuse the rest."""

from __future__ import annotations

import json
import logging
import os

import pytest

from chain import keys
from workspace.errors import ChainError

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"  # eth-account docs' example key


@pytest.fixture(autouse=True)
def no_env_password(monkeypatch):
    monkeypatch.delenv(keys.PASSWORD_ENV, raising=False)


def test_create_and_load_with_password_file(tmp_path, caplog):
    ks, pw = tmp_path / "gateway.json", tmp_path / "password"
    keys.write_password_file(pw, "correct horse")
    with caplog.at_level(logging.DEBUG):
        addr = keys.create_keystore(ks, "correct horse", private_key=KEY, kdf="pbkdf2")
        acct = keys.load_account(ks, password_file=pw)
    assert addr == acct.address == ADDRESS == keys.keystore_address(ks)
    assert acct.key == KEY
    assert os.stat(ks).st_mode & 0o777 == 0o600
    assert KEY.hex() not in caplog.text and "correct horse" not in caplog.text
    assert KEY.hex() not in ks.read_text()


def test_env_password_wins(tmp_path, monkeypatch):
    ks = tmp_path / "gateway.json"
    keys.create_keystore(ks, "from-env", private_key=KEY, kdf="pbkdf2")
    monkeypatch.setenv(keys.PASSWORD_ENV, "from-env")
    assert keys.load_account(ks).address == ADDRESS


def test_wrong_password_and_loose_file_mode(tmp_path):
    ks, pw = tmp_path / "gateway.json", tmp_path / "password"
    keys.create_keystore(ks, "right", private_key=KEY, kdf="pbkdf2")
    with pytest.raises(ChainError, match="wrong password"):
        keys.load_account(ks, "wrong")
    pw.write_text("right\n")
    pw.chmod(0o644)
    with pytest.raises(ChainError, match="chmod 600"):
        keys.load_account(ks, password_file=pw)
    with pytest.raises(ChainError, match="does not exist"):
        keys.load_account(ks, password_file=tmp_path / "missing")


def test_never_overwrites_a_key(tmp_path):
    ks = tmp_path / "gateway.json"
    keys.create_keystore(ks, "pw", kdf="pbkdf2")
    before = json.loads(ks.read_text())
    with pytest.raises(ChainError, match="already exists"):
        keys.create_keystore(ks, "pw", kdf="pbkdf2")
    assert json.loads(ks.read_text()) == before
    with pytest.raises(ChainError, match="empty password"):
        keys.create_keystore(tmp_path / "other.json", "")
