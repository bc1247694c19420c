"""The secrets scan (issue 18): ``detect-secrets`` over every tracked file finds nothing beyond the committed,
reviewed baseline ``.secrets.baseline`` (each of its entries is a name or path, marked ``is_secret: false``).

The options are the baseline's: every plugin but ``HexHighEntropyString`` (SHA-256 digests, roots and addresses
are this project's daily bread and no secret), and no scan of ``package-lock.json`` (integrity hashes) or
``tests/data/merkle/`` (the published C2SP transparency-log test vectors, base64 hashes), nor of the baseline
itself (it holds the scanner's hashes of what it found).
A finding is compared by file, type and the scanner's hash of the secret, not by line, so moving a line
does not fail the test; a new password, key or token does, naming file:line and type.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".secrets.baseline"
EXCLUDE = r"(package-lock\.json$|^tests/data/merkle/|^\.secrets\.baseline$)"


def test_no_secret_in_the_tracked_files():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    names = [f for f in files.decode().split("\0") if f and (ROOT / f).is_file()]
    r = subprocess.run([sys.executable, "-m", "detect_secrets", "scan", "--disable-plugin",
                        "HexHighEntropyString", "--exclude-files", EXCLUDE, *names],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    found = json.loads(r.stdout)["results"]
    known = {(f, s["type"], s["hashed_secret"]) for f, ss in json.loads(BASELINE.read_text())["results"].items()
             for s in ss}
    new = [f"{f}:{s['line_number']}: {s['type']}" for f, ss in found.items() for s in ss
           if (f, s["type"], s["hashed_secret"]) not in known]
    assert not new, ("possible secrets in tracked files (remove them, or review and add them to .secrets.baseline "
                     "with is_secret false):\n" + "\n".join(new))
