"""Bad input on the command line refused with one line and exit status 2, never a traceback (issue 14):
dates, periods, frequencies, meter ids, months, years and numbers; hand readings beyond the register or
beyond what the plant can draw; a site without meters. A property-based test drives every command of
:data:`tanjian.cli.COMMANDS` with generated bad arguments."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanjian import args as A
from tanjian import cli
from tanjian.cli import main
from workspace.batch import Reading, encode_batch
from workspace.business.manual import MAX_REGISTER_DIGITS, check_plausible, submit_manual_reading
from workspace.config import EXAMPLE, load_config
from workspace.errors import TanjianError
from workspace.journal import Journal
from workspace.store import Store

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=TZ)
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TZ)


def run(argv: list[str]) -> tuple[int, str, str]:
    """``tanjian ARGV`` in process: (exit code, stdout, stderr); argparse's exit is an exit code too."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A Plant 18 workspace whose store holds two readings of M-TR-1 and M-WS-AS (08:00 and 08:01 on
    2026-03-02, local): the data folder."""
    d = tmp_path_factory.mktemp("small") / "var"
    cfg = load_config(EXAMPLE, data_dir=d)
    with Journal(cfg.paths.journal, writer=True) as j:
        j.append(encode_batch(cfg.site.plant.id, 0, "test", [
            Reading(m, T0 + dt.timedelta(minutes=k, seconds=0.3), 1000.0 + 10 * k)
            for k in (0, 1) for m in ("M-TR-1", "M-WS-AS")]))
        Store.open(cfg.paths.store, cfg.site, create=True).fold(j)
    return d


def bad(small, *argv: str) -> str:
    """Run ``tanjian --data-dir SMALL ARGV``, expect exit 2 and return its one line on stderr."""
    rc, _, err = run(["--data-dir", str(small), *argv])
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


# -- the cases of the issue --------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "line"), [
    (["reading", "add", "--meter", "M-TR-1", "--counter", "1", "--photo", __file__, "--reader", "r",
      "--time", "2026-02-30"], "tanjian reading add: --time 2026-02-30: day is out of range for month"),
    (["reading", "add", "--meter", "M-TR-1", "--counter", "1", "--photo", "no-such.jpg", "--reader", "r"],
     "tanjian reading add: --photo no-such.jpg: no such file"),
    (["verify", "no-such.json", "no-such.proof.json"], "tanjian verify: batch_file no-such.json: no such file"),
    (["query", "energy", "--start", "1900-01-01", "--end", "2026-03-01"],
     "tanjian query energy: --start 1900-01-01: outside 1990-01-01 .. 2099-12-31"),
    (["query", "energy", "--start", "2026-03-01", "--end", "2026-03-02", "--freq", "7parsecs"],
     "tanjian query energy: --freq 7parsecs: not a frequency (e.g. 15min, 1h, 1D, MS, or total)"),
    (["query", "energy", "--start", "2026-03-01", "--end", "2026-03-02", "--freq=-1h"],
     "tanjian query energy: --freq -1h: a frequency must be positive"),
    (["query", "energy", "--start", "2026-03-02", "--end", "2026-03-01"],
     "tanjian query energy: --end 2026-03-01: not after --start 2026-03-02"),
    (["query", "energy", "--start", "2026-03-01", "--end", "2026-03-03", "--meter", "M-NOPE"],
     "tanjian query energy: --meter M-NOPE: unknown meter (see the site model: `tanjian config check`)"),
    (["query", "quality", "--start", "2026-03-01", "--end", "2026-03-03", "--meter", "M-NOPE"],
     "tanjian query quality: --meter M-NOPE: unknown meter (see the site model: `tanjian config check`)"),
    (["query", "quality", "--start", "yesterday", "--end", "2026-03-03"],
     "tanjian query quality: --start yesterday: not an ISO 8601 date or time (YYYY-MM-DD[ HH:MM])"),
    (["inventory", "--year", "26"], "tanjian inventory: --year 26: not a year YYYY"),
    (["inventory", "--from", "2026-02-29"], "tanjian inventory: --from 2026-02-29: day is out of range for month"),
    (["footprint", "--month", "2026-13"], "tanjian footprint: --month 2026-13: not a month YYYY-MM"),
    (["report", "--month", "1899-12", "--author", "a"],
     "tanjian report: --month 1899-12: outside 1990-01-01 .. 2099-12-31"),
    (["reconcile", "--month", "Oct"], "tanjian reconcile: --month Oct: not a month YYYY-MM"),
    (["allowance", "status", "--level", "1.5"], "tanjian allowance status: --level 1.5: must be between 0 and 1"),
    (["correct", "--meter", "M-TR-1", "--time", "2026-03-02 08:00", "--counter", "nan", "--author", "a",
      "--reason", "r"], "tanjian correct: --counter nan: not a finite number"),
    (["versions", "--limit", "0"], "tanjian versions: --limit 0: must be at least 1"),
    (["serve", "--port", "70000"], "tanjian serve: --port 70000: not a TCP port (1..65535)"),
    (["quota", "show", "ent", "12345"], "tanjian quota show: year 12345: not a year YYYY"),
    (["inventory", "--from", "2026-03-02", "--to", "2026-03-01"],
     "tanjian inventory: --to 2026-03-01: before --from 2026-03-02"),
    (["inventory", "--from", "2026-03-02"], "tanjian inventory: give --year YYYY or both --from DATE and --to DATE"),
    (["report", "--author", "a", "--month", "2026-03", "--format", "docx"],
     "tanjian report: --format docx: expected a comma-separated subset of json,xlsx,pdf"),
    (["query", "energy", "--start", "2026-03-01", "--end", "2026-03-02", "--bogus", "1"],
     "tanjian query energy: unrecognized arguments: --bogus 1"),
])
def test_bad_arguments_are_refused_in_one_line(small, argv, line):
    assert bad(small, *argv) == line


def test_a_good_query_still_answers(small):
    rc, out, err = run(["--data-dir", str(small), "query", "energy", "--start", "2026-03-02", "--end",
                        "2026-03-03", "--meter", "M-TR-1", "--freq", "total"])
    assert rc == 0, err
    assert "M-TR-1" in out and "10.000" in out


# -- hand readings -----------------------------------------------------------------------------------------
def test_a_reading_beyond_the_register_is_refused_even_confirmed(small, tmp_path):
    from tests.workspace.test_manual import jpeg

    cfg = load_config(EXAMPLE, data_dir=small)
    store = Store.open(cfg.paths.store, cfg.site)
    at = T0 + dt.timedelta(minutes=61)
    # M-WS-AS has no rating: 1e300 kWh used to be stored with --confirm (and `tanjian kpi` showed it)
    found = check_plausible(cfg.site, store, "M-WS-AS", at, 1e300, now=NOW)
    assert [(p.severity, p.code) for p in found] == [("error", "above_register"), ("error", "above_ceiling")]
    p = found[0]
    assert "it shows less than 42,949,673 kWh (family cn3p-int32's counter register wraps there)" in p.message
    # a float32 counter (SDM630) has no wrap: the widest register, 10 digits
    p = check_plausible(cfg.site, store, "M-LC-01", at, 1e10, now=NOW)[0]  # (no history: a warning too)
    assert p.code == "above_register" and "less than 10,000,000,000 kWh (the widest register (10 digits))" in p.message
    with pytest.raises(TanjianError, match="cannot be on the register"):
        submit_manual_reading(cfg.site, store, tmp_path / "inbox", tmp_path / "evidence", meter="M-WS-AS",
                              time=at, counter=1e300, reader="r", photo=jpeg(), confirmed=True, now=NOW)
    assert not (tmp_path / "inbox").exists() and not (tmp_path / "evidence").exists()
    # a meter's own digits, when configured
    site = cfg.site.model_copy(update={"meters": [m.model_copy(update={"register_digits": 6})
                                                  if m.id == "M-WS-AS" else m for m in cfg.site.meters]})
    found = check_plausible(site, store, "M-WS-AS", at, 1_000_000.0, now=NOW)
    assert [p.code for p in found] == ["above_register", "above_ceiling"]
    assert "meter M-WS-AS register_digits 6" in found[0].message
    assert [p.code for p in check_plausible(site, store, "M-WS-AS", at, 2000.0, now=NOW)] == ["no_rating"]
    assert MAX_REGISTER_DIGITS == 10


def test_a_meter_without_rating_is_bounded_by_the_plants_transformers(small):
    cfg = load_config(EXAMPLE, data_dir=small)
    store = Store.open(cfg.paths.store, cfg.site)
    at = T0 + dt.timedelta(minutes=61)  # 1 h after the last reading (1010 kWh)
    # 5750 kVA of transformers × 1.5 = 8625 kW: 8625 kWh in the hour is the most
    assert [p.code for p in check_plausible(cfg.site, store, "M-WS-AS", at, 1010 + 8625, now=NOW)] == ["no_rating"]
    [p] = check_plausible(cfg.site, store, "M-WS-AS", at, 1010 + 8626, now=NOW)
    assert (p.severity, p.code) == ("error", "above_ceiling")
    assert "above what the whole plant can draw: 8,625.0 kW" in p.message


def test_reading_add_refuses_1e300_from_the_shell(small, tmp_path):
    from tests.workspace.test_manual import jpeg

    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    rc, _, err = run(["--data-dir", str(small), "reading", "add", "--meter", "M-WS-AS", "--counter", "1e300",
                      "--photo", str(photo), "--reader", "r", "--time", "2026-03-02 09:01", "--confirm"])
    assert rc == 2 and "--counter 1e300: no register shows 11 digits or more" in err and "Traceback" not in err
    rc, _, err = run(["--data-dir", str(small), "reading", "add", "--meter", "M-WS-AS", "--counter", "9999999999",
                      "--photo", str(photo), "--reader", "r", "--time", "2026-03-02 09:01", "--confirm"])
    assert rc == 2 and "cannot be on the register" in err and "Traceback" not in err


def test_a_correction_beyond_the_register_is_refused(small):
    assert bad(small, "correct", "--meter", "M-WS-AS", "--time", "2026-03-02 08:01", "--counter", "1e300",
               "--author", "a", "--reason", "r") == "tanjian correct: --counter 1e300: no register shows 11 digits or more"
    assert bad(small, "replace-meter", "--meter", "M-WS-AS", "--time", "2026-03-02 08:01", "--old-final", "5",
               "--new-initial", "1e12", "--author", "a", "--reason", "r").startswith(
        "tanjian replace-meter: --new-initial 1e12: no register")


# -- a site without meters ---------------------------------------------------------------------------------
def test_a_site_without_meters_is_refused_with_file_line_and_field(tmp_path):
    cfg = tmp_path / "empty.yaml"
    cfg.write_text("version: 1\nsite:\n  enterprise:\n    name: E\n    industry: machinery\n  plant:\n"
                   "    id: p\n    name: P\n    city: Changsha\n    province: Hunan\n    timezone: Asia/Shanghai\n"
                   "  transformers: []\n  workshops: []\n  devices: []\n  gateways: []\n  meters: []\n")
    rc, _, err = run(["-c", str(cfg), "config", "check"])
    assert rc != 0 and f"{cfg}:16: site.meters: Value error, a site needs at least one meter" in err
    rc, _, err = run(["-c", str(cfg), "--data-dir", str(tmp_path / "var"), "fold"])
    assert rc == 2 and "a site needs at least one meter" in err and "Traceback" not in err
    assert not (tmp_path / "var").exists()  # no store begun, none damaged


# -- every command, generated bad arguments ----------------------------------------------------------------
#: commands that start servers, processes or long loops when their arguments are good: driven with at
#: least one bad value only (they must refuse it before starting anything)
LONG_RUNNING = {"demo", "simulate", "collect", "simulate-mqtt", "history", "serve", "lab", "anchor", "chain",
                "opcua", "methodology", "ledger", "quota", "report", "export", "push"}
BAD_VALUES = ["2026-02-30", "1900-01-01", "2300-01-01", "7parsecs", "-1", "0", "1e300", "-1e300", "nan", "inf",
              "", " ", "2026-13", "2026-00", "99999", "abc", "M-NOPE", "M-TR-1", "2026-03-02", "2026-03-01",
              "2026-03-02 08:00", "total", "1h", "-5h", "0min", "２０２６-０３-０２", "1" * 400, "\x00", "😀"]


def _subparsers(p: argparse.ArgumentParser):
    return next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)


def _leaves(name: str) -> list[tuple[list[str], argparse.ArgumentParser]]:
    """(words, parser) of each runnable command below ``name`` (``query energy``, ``kpi`` …)."""
    out, todo = [], [([name], _subparsers(cli.build_parser(name)).choices[name])]
    while todo:
        words, p = todo.pop()
        sub = _subparsers(p)
        if sub is None:
            out.append((words, p))
        else:
            todo += [(words + [w], q) for w, q in sub.choices.items()]
    return out


LEAVES = [leaf for c in cli.COMMANDS for leaf in _leaves(c.name)]


def _options(p: argparse.ArgumentParser):
    return [a for a in p._actions if a.option_strings and a.dest not in ("help", "version")]


def _positionals(p: argparse.ArgumentParser):
    return [a for a in p._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _refuses(validator, value: str) -> bool:
    try:
        validator(value)
    except argparse.ArgumentTypeError:
        return True
    return False


@st.composite
def command_lines(draw, only_bad: bool):
    words, p = draw(st.sampled_from(LEAVES))
    value = st.one_of(st.sampled_from(BAD_VALUES), st.text(max_size=12))
    argv = list(words) + [draw(value) for a in _positionals(p)]
    opts = _options(p)
    for a in draw(st.lists(st.sampled_from(opts), max_size=4, unique_by=id)) if opts else []:
        argv.append(a.option_strings[-1])
        if a.nargs != 0:
            argv.append(draw(value))
    if only_bad or words[0] in LONG_RUNNING:
        typed = [a for a in opts if getattr(a.type, "__module__", "") == "tanjian.args"
                 and a.type is not A.path_name]
        if typed:  # one value its validator refuses
            a = draw(st.sampled_from(typed))
            argv += [a.option_strings[-1], draw(st.sampled_from(BAD_VALUES).filter(lambda v: _refuses(a.type, v)))]
        else:
            argv.append("--no-such-option")
    return words, argv


def _check(small, argv: list[str]) -> None:
    rc, _, err = run(["--data-dir", str(small), *argv])
    assert "Traceback" not in err
    assert rc in (0, 1, 2), (argv, rc, err)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(line=command_lines(only_bad=True))
def test_every_command_refuses_bad_arguments_without_a_traceback(small, line):
    words, argv = line
    rc, _, err = run(["--data-dir", str(small), *argv])
    assert rc == 2, (argv, err)
    assert "Traceback" not in err and err.startswith(f"tanjian {words[0]}"), (argv, err)
    assert len(err.strip().splitlines()) == 1 or "problem(s)" in err, (argv, err)


SHORT = [leaf for leaf in LEAVES if leaf[0][0] not in LONG_RUNNING]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(line=command_lines(only_bad=False))
def test_every_short_command_never_raises(small, line, tmp_path_factory, monkeypatch):
    words, argv = line
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    _check(small, argv)  # an uncaught exception fails here with its traceback


def test_kpi_never_shows_a_refused_hand_reading(tmp_path):
    """The issue's case end to end: 1e300 kWh on a meter without a rating, confirmed, used to be queued,
    journaled by `fold` and shown by `tanjian kpi`; now it is refused and the KPIs keep the metered 10 kWh."""
    from tests.workspace.test_manual import jpeg

    cfg = load_config(EXAMPLE, data_dir=tmp_path / "var")
    t0 = dt.datetime.now(TZ).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    with Journal(cfg.paths.journal, writer=True) as j:
        j.append(encode_batch(cfg.site.plant.id, 0, "test", [
            Reading(m, t0 + dt.timedelta(minutes=k, seconds=0.3), 1000.0 + 10 * k)
            for k in (0, 1) for m in ("M-TR-1", "M-WS-AS")]))
        Store.open(cfg.paths.store, cfg.site, create=True).fold(j)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    at = (t0 + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    for value in ("1e300", "9999999999", "1e9"):
        rc, _, err = run(["--data-dir", str(cfg.paths.data_dir), "reading", "add", "--meter", "M-WS-AS",
                          "--counter", value, "--photo", str(photo), "--reader", "r", "--time", at, "--confirm"])
        assert rc == 2 and "Traceback" not in err, err
    assert not cfg.paths.inbox.exists() or not any(cfg.paths.inbox.glob("*.json"))
    assert run(["--data-dir", str(cfg.paths.data_dir), "fold"])[0] == 0
    rc, out, err = run(["--data-dir", str(cfg.paths.data_dir), "kpi"])
    assert rc == 0, err
    kwh = [float(line.split()[1].replace(",", "")) for line in out.splitlines()
           if line.split()[:1] in (["today"], ["yesterday"], ["month"], ["year"])]
    assert max(kwh) == 10.0  # the plant's top meter M-TR-1: 1000 → 1010 kWh
    assert "e+" not in out
