"""A local Mosquitto broker set up as a plant would run it, for tests, benchmarks and demos.

:class:`Mosquitto` writes a ``mosquitto.conf`` into a folder, with

- a TLS listener on loopback: a CA, the broker's certificate and one client certificate per user,
  all made here with ``cryptography`` (EC P-256, valid for a day) — the broker requires a client
  certificate signed by that CA;
- a password file made with ``mosquitto_passwd -b`` (one user per gateway, plus the collector);
- an ACL: each user may only read or write its own topic patterns;
- persistence on (sessions and queued QoS 1 messages survive a broker restart), no limit on the
  messages queued for an absent persistent session;

then starts Debian's ``/usr/sbin/mosquitto`` and waits for its port.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from tanjian.service import stop as stop_child

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


@dataclass(frozen=True)
class BrokerUser:
    """One account: its password and the topic patterns it may read and write."""

    name: str
    password: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(folder: Path, clients: list[str]) -> dict[str, tuple[Path, Path]]:
    """CA, broker and client certificates in ``folder``.

    Returns name -> (certificate, key) paths, for every client and for ``ca`` and ``server``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    until = now + dt.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tanjian test PKI"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("tanjian test CA")).issuer_name(name("tanjian test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    out = {}
    folder.mkdir(parents=True, exist_ok=True)

    def write(label, cert, key):
        c, k = folder / f"{label}.crt", folder / f"{label}.key"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(_pem_key(key))
        k.chmod(0o600)
        out[label] = (c, k)

    write("ca", ca, ca_key)
    for label, server in [("server", True)] + [(c, False) for c in clients]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(name("localhost" if server else label))
             .issuer_name(ca.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(until)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        write(label, b.sign(ca_key, hashes.SHA256()), key)
    return out


class Mosquitto:
    """A running ``mosquitto`` with TLS, passwords and an ACL (see the module docstring).

    Parameters
    ----------
    folder : path
        Where the configuration, certificates, persistence and log go.
    users : list of BrokerUser
    port : int or None
        Listener port (default: a free one).

    Attributes
    ----------
    port : int
    certs : dict
        User name (and ``ca``, ``server``) -> (certificate, key) paths.
    """

    def __init__(self, folder: Path, users: list[BrokerUser], port: int | None = None):
        self.folder = Path(folder)
        self.users = {u.name: u for u in users}
        self.port = port or _free_port()
        self.proc: subprocess.Popen | None = None
        self.folder.mkdir(parents=True, exist_ok=True)
        self.certs = make_pki(self.folder / "pki", list(self.users))
        passwd = self.folder / "passwd"
        passwd.write_text("")
        passwd.chmod(0o600)
        for u in users:
            subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), u.name, u.password], check=True,
                           capture_output=True)
        acl = []
        for u in users:
            acl.append(f"user {u.name}")
            acl += [f"topic read {t}" for t in u.read] + [f"topic write {t}" for t in u.write]
            acl.append("")
        (self.folder / "acl").write_text("\n".join(acl))
        (self.folder / "data").mkdir(exist_ok=True)
        ca, (sc, sk) = self.certs["ca"][0], self.certs["server"]
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text("\n".join([
            "per_listener_settings false",
            f"user {pwd.getpwuid(os.getuid()).pw_name}",  # started as root it would switch to 'mosquitto'

            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.folder / 'acl'}",
            "persistence true",
            f"persistence_location {self.folder / 'data'}/",
            "max_queued_messages 0",  # a persistent session's QoS 1 messages are all kept while it is away
            "max_inflight_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"listener {self.port} 127.0.0.1",
            f"cafile {ca}",
            f"certfile {sc}",
            f"keyfile {sk}",
            "require_certificate true",
            "tls_version tlsv1.2",
            "",
        ]))

    def tls(self, user: str) -> dict[str, str]:
        """``ca_file``, ``cert_file``, ``key_file`` for ``user`` (as the mqtt gateway settings take them)."""
        c, k = self.certs[user]
        return {"ca_file": str(self.certs["ca"][0]), "cert_file": str(c), "key_file": str(k)}

    def start(self, timeout_s: float = 10.0) -> "Mosquitto":
        """Start the broker and wait until its port accepts connections."""
        self.log = open(self.folder / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}; see "
                                   f"{self.folder / 'mosquitto.log'}:\n"
                                   f"{(self.folder / 'mosquitto.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM: it saves its persistence file first)."""
        if self.proc is not None:
            stop_child(self.proc, 10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
