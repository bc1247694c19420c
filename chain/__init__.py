"""Ledger and chain anchoring: RFC 9162 Merkle log of journal batches, anchored on an EVM chain.

Modules: :mod:`chain.merkle` (tree and proofs, standalone), :mod:`chain.ledger` (leaf hashes of the
journal), :mod:`chain.compile` / :mod:`chain.deploy` / :mod:`chain.node` (contract and node),
:mod:`chain.keys` (gateway keystore), :mod:`chain.anchor` (anchoring service), :mod:`chain.bundle`
and :mod:`chain.verify` (proof bundles), :mod:`chain.cli` (commands).
"""
