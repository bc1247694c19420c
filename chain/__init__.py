"""Ledger and chain anchoring: RFC 9162 Merkle log of journal batches, anchored on an EVM chain.

Modules: :mod:`chain.merkle` (tree and proofs, standalone), :mod:`chain.ledger` (leaf hashes of the
journal), :mod:`chain.artefacts` / :mod:`chain.deploy` / :mod:`chain.node` (contract and node),
:mod:`chain.registry` (the contract set: device identity, anchors, methodology versions, quotas;
ids as ``bytes32``), :mod:`chain.keys` (gateway keystore), :mod:`chain.signatures` (gateway
signatures of the leaves), :mod:`chain.anchor` (anchoring service), :mod:`chain.bundle` and
:mod:`chain.verify` (proof bundles), :mod:`chain.methodology` (methodology packages and versions),
:mod:`chain.quota` (quotas, on chain and hand-entered), :mod:`chain.identity` (device payload
signatures), :mod:`chain.connect` (the configured workspace's node, deployment, registries and anchoring
service).
"""
