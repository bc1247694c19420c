"""The enterprise's side of the park: ledger its figures, anchor them, and assemble the report package.

:func:`ledger_anchor_package` writes the canonical figures (``tanjian.park-figures/1``, see
:mod:`models.park.package`) beside the reports, appends a ``document`` batch recording their SHA-256 to
the plant's journal (the batch an inbox document request becomes, see :func:`workspace.inbox.document_request`),
anchors the ledger's root with the plant's gateway key, exports the batch's proof bundle and assembles the
package folder the park receives. Only figures and proofs leave the plant.

It writes the journal itself, so it runs where no collector holds the journal (a workspace's report job,
the tests, the benchmark); with a collector running, :func:`models.reports.issue.ledger_files` queues the
request and the anchoring loop anchors it.
"""

from __future__ import annotations

import os
from pathlib import Path

from chain.anchor import AnchorService
from chain.bundle import export_batch
from chain.ledger import Ledger
from workspace.batch import encode_batch
from workspace.inbox import document_request
from workspace.journal import Journal

from ..park.package import FIGURES, build_package
from .render import write_atomic


def ledger_anchor_package(figures: bytes, *, plant: str, journal_dir: str | os.PathLike,
                          state_dir: str | os.PathLike, w3, anchor_address: str, gateway, out_dir: str | os.PathLike,
                          author: str, reason: str, reports: list[str | os.PathLike] = ()) -> Path:
    """Ledger and anchor ``figures`` in the plant's journal, then write the package into ``out_dir``.

    Parameters
    ----------
    figures : bytes
        Canonical figures (:func:`models.park.package.figures_json`).
    plant : str
        The plant (enterprise) id its gateway is registered for.
    journal_dir, state_dir : path
        The plant's journal and chain state (ledger cache, signatures, ``anchors.jsonl``).
    w3, anchor_address, gateway
        Node connection, the consortium's AnchorRegistry and the plant's gateway account.
    out_dir : path
        The package folder to write (then :func:`models.park.package.submit` drops it at the park).
    author, reason : str
        Who issues the figures and why (recorded in the batch's note).
    reports : list of path
        The report files issued with the figures (copied into the package for a person to read).

    Returns
    -------
    Path
        The package folder.
    """
    out = Path(out_dir)
    work = out.with_name(out.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    fig_path = work / FIGURES
    write_atomic(fig_path, figures)
    note = {k: v for k, v in document_request(fig_path, author, reason).items()}
    with Journal(journal_dir, writer=True) as journal:
        seq = journal.append(encode_batch(plant, journal.next_seq, "inbox:document", [], note))
    with Ledger(journal_dir, state_dir) as ledger:
        AnchorService(w3, anchor_address, gateway, ledger, state_dir).anchor_once()
        batch_path, bundle_path = export_batch(journal_dir, ledger, state_dir, seq, work,
                                               contract=anchor_address)
    return build_package(out, figures, batch_path, bundle_path, reports)


def answer_requests(w3, requests, *, plant: str, sector: str, compute, methodology_dir: str | os.PathLike,
                    methodology_registry, journal_dir: str | os.PathLike, state_dir: str | os.PathLike,
                    anchor_address: str, gateway, out_root: str | os.PathLike, drop: str | os.PathLike,
                    author: str = "on-demand") -> list[tuple]:
    """Answer every open request of the regulator for ``plant`` (seen in the ``Requested`` events).

    For each: the local methodology package must be the version active on chain at the period's start
    (:func:`chain.methodology.require_matching`, which refuses otherwise); ``compute(start, end, methodology_id)``
    returns the emissions (kg CO2e by scope, with ``total``); the figures are ledgered, anchored and packaged
    (:func:`ledger_anchor_package`), dropped at the park, and the request is fulfilled on chain with their
    SHA-256. Requests are for calendar months (the package's period is ``YYYY-MM`` of the start).

    Returns
    -------
    list of (ReportRequest, Path)
        Each request answered and the package folder at the park.
    """
    import hashlib

    from chain.methodology import require_matching
    from chain.requests import fulfil, open_requests

    from ..park.package import figures_json, submit

    done = []
    for r in open_requests(requests, plant):
        on = require_matching(methodology_dir, methodology_registry, r.methodology, r.period_start)
        period = r.period_start.strftime("%Y-%m")
        figures = figures_json(plant, sector, period, {"id": on.id, "version": on.version,
                                                       "sha256": on.package_sha256},
                               compute(r.period_start, r.period_end, r.methodology))
        pkg = ledger_anchor_package(figures, plant=plant, journal_dir=journal_dir, state_dir=state_dir, w3=w3,
                                    anchor_address=anchor_address, gateway=gateway,
                                    out_dir=Path(out_root) / f"request-{r.id}", author=author,
                                    reason=f"report requested by the regulator (request {r.id})")
        at_park = submit(pkg, drop)
        fulfil(w3, requests, gateway, r.id, hashlib.sha256(figures).hexdigest())
        done.append((r, at_park))
    return done
