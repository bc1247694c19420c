"""The enterprise's side of the park: ledger its figures, anchor them, and assemble the report package.

:func:`ledger_anchor_package` writes the canonical figures (``tanjian.park-figures/1``, see
:mod:`models.park.package`) beside the reports, appends a ``document`` batch recording their SHA-256 to
the plant's journal (the batch an inbox document request becomes, see :func:`workspace.inbox.document_request`),
anchors the ledger's root with the plant's gateway key, exports the batch's proof bundle and assembles the
package folder the park receives. Only figures and proofs leave the plant.

It writes the journal itself, so it runs where no collector holds the journal (a workspace's report job,
the tests, the benchmark). A workspace answering the regulator's requests goes through
:mod:`models.reports.on_demand` instead (the report issued by :func:`models.reports.issue.issue`, its files
ledgered by :func:`models.reports.issue.ledger_files`, which queues them when a collector holds the journal).
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
