"""dashboards.kept: a result is computed once per key and shared, the oldest are dropped beyond the size, sessions
asking together compute once, a refusal is not kept, and the files' hash follows their content."""

from __future__ import annotations

import threading

import pytest

from dashboards.kept import Kept, files_hash


def test_computed_once_per_key_and_shared():
    calls = []

    def make(x):
        calls.append(x)
        return {"x": x}

    k = Kept(size=2)
    a = k.get("a", lambda: make(1))
    assert k.get("a", lambda: make(99)) is a  # kept: the second compute is never called
    assert calls == [1]
    k.get("b", lambda: make(2))
    k.get("a", lambda: make(99))  # "a" used last: "b" is now the oldest
    k.get("c", lambda: make(3))  # size 2: "b" dropped, "a" and "c" kept
    assert len(k) == 2 and calls == [1, 2, 3]
    assert k.get("a", lambda: make(99)) is a
    k.get("b", lambda: make(4))  # computed again
    assert calls == [1, 2, 3, 4]
    k.forget()
    assert len(k) == 0


def test_refusal_not_kept():
    k = Kept()
    with pytest.raises(ValueError):
        k.get("bad", lambda: (_ for _ in ()).throw(ValueError("no")))
    assert k.get("bad", lambda: 7) == 7


def test_sessions_together_compute_once():
    k, calls, gate = Kept(), [], threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return object()

    out = []
    threads = [threading.Thread(target=lambda: out.append(k.get("p", slow))) for _ in range(5)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(out) == 5 and all(o is out[0] for o in out)


def test_files_hash_follows_content(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.yaml").write_text("price: 4.0\n")
    (tmp_path / "b.csv").write_text("1,2\n")
    h = files_hash(tmp_path)
    assert files_hash(tmp_path) == h
    (tmp_path / "s" / "a.yaml").write_text("price: 8.0\n")
    assert files_hash(tmp_path) != h
    (tmp_path / "s" / "a.yaml").write_text("price: 4.0\n")
    assert files_hash(tmp_path) == h  # the content, not the time it was written
