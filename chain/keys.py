"""The gateway's signing key, kept in an encrypted Web3 Secret Storage keystore (eth-account).

The password comes from a password file readable only by its owner (mode 0600) or from the
environment variable ``TANJIAN_KEYSTORE_PASSWORD``; never from the YAML configuration. Neither
the key nor the password is ever logged: only the address is.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from workspace.errors import ChainError

log = logging.getLogger(__name__)

PASSWORD_ENV = "TANJIAN_KEYSTORE_PASSWORD"


def create_keystore(path: str | os.PathLike, password: str, *, private_key: bytes | None = None,
                    kdf: str = "scrypt") -> str:
    """Create a new gateway key and store it encrypted at ``path`` (mode 0600).

    Parameters
    ----------
    path : path
        Keystore file to create; an existing file is never overwritten.
    password : str
        Encryption password (non-empty).
    private_key : bytes, optional
        Import this key instead of generating one [32 bytes].
    kdf : {"scrypt", "pbkdf2"}
        Key derivation function of the keystore.

    Returns
    -------
    str
        The checksummed address of the key.
    """
    path = Path(path)
    if not password:
        raise ChainError(f"{path}: refusing to create a keystore with an empty password")
    if path.exists():
        raise ChainError(f"{path}: keystore already exists; not overwriting a key")
    account = Account.from_key(private_key) if private_key is not None else Account.create()
    keystore = Account.encrypt(account.key, password, kdf=kdf)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)
        f.flush()
        os.fsync(f.fileno())
    log.info("created gateway keystore %s for address %s", path, account.address)
    return account.address


def keystore_address(path: str | os.PathLike) -> str:
    """Address recorded in a keystore, without decrypting it."""
    from eth_utils import to_checksum_address

    data = _read_keystore(Path(path))
    if "address" not in data:
        raise ChainError(f"{path}: keystore has no address field")
    return to_checksum_address(data["address"])


def read_password(password_file: str | os.PathLike | None = None) -> str:
    """The keystore password: ``$TANJIAN_KEYSTORE_PASSWORD`` if set, else the password file.

    The file must not be readable or writable by group or others (e.g. mode 0600); a trailing
    newline is ignored.
    """
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    if password_file is None:
        raise ChainError(f"no keystore password: set {PASSWORD_ENV} or configure chain.password_file")
    p = Path(password_file)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ChainError(f"password file {p} does not exist (or set {PASSWORD_ENV})") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ChainError(f"password file {p} is accessible by group or others "
                         f"(mode {stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {p}`")
    password = p.read_text("utf-8").rstrip("\r\n")
    if not password:
        raise ChainError(f"password file {p} is empty")
    return password


def write_password_file(path: str | os.PathLike, password: str) -> None:
    """Write a password file with mode 0600 (creating it; an existing file is kept)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")


def load_account(path: str | os.PathLike, password: str | None = None, *,
                 password_file: str | os.PathLike | None = None) -> LocalAccount:
    """Decrypt the gateway account from its keystore.

    Parameters
    ----------
    path : path
        Keystore file.
    password : str, optional
        Password; when omitted it is read with :func:`read_password` from ``password_file``
        or the environment.
    """
    path = Path(path)
    data = _read_keystore(path)
    if password is None:
        password = read_password(password_file)
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise ChainError(f"{path}: wrong password for this keystore (MAC mismatch)") from None
    account = Account.from_key(key)
    log.info("gateway account %s unlocked from %s", account.address, path)
    return account


def _read_keystore(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ChainError(f"keystore {path} does not exist: create it with `tanjian chain keygen`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ChainError(f"keystore {path} is not a JSON keystore: {exc}") from None
