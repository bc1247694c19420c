// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title AnchorRegistry — tanjian ledger roots anchored by registered plant gateways
/// @notice The owner (deployer) registers and revokes gateway addresses. An active gateway anchors
///         the RFC 9162 Merkle root of its plant's ledger together with the tree size (number of
///         batches covered) and the measurement period. A root is never overwritten and tree sizes
///         only grow, so every anchored root extends the previous one (checked off-chain with a
///         consistency proof).
contract AnchorRegistry {
    struct Anchor {
        uint64 treeSize;      // leaves (journal batches) covered by the root
        uint64 periodStart;   // first reading time covered [unix seconds, UTC]
        uint64 periodEnd;     // last reading time covered [unix seconds, UTC]
        address gateway;      // address that anchored the root
        uint64 timestamp;     // block time of the anchoring transaction [unix seconds]
        uint64 blockNumber;   // block of the anchoring transaction
    }

    address public immutable owner;
    mapping(address => bool) private gateways;
    mapping(bytes32 => Anchor) private anchors;
    bytes32 private latestRoot;
    uint64 private latestTreeSize;
    uint64 public anchorCount;

    event GatewayChanged(address indexed gateway, bool active);
    event Anchored(bytes32 indexed root, uint64 treeSize, uint64 periodStart, uint64 periodEnd,
                   address indexed gateway);

    error NotOwner(address caller);
    error NotGateway(address caller);
    error ZeroAddress();
    error RootAlreadyAnchored(bytes32 root);
    error TreeSizeNotIncreasing(uint64 treeSize, uint64 latestTreeSize);
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Register (active = true) or revoke (active = false) a gateway. Owner only.
    function setGateway(address gateway, bool active) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (gateway == address(0)) revert ZeroAddress();
        gateways[gateway] = active;
        emit GatewayChanged(gateway, active);
    }

    /// @notice Anchor a ledger root covering treeSize batches read between periodStart and periodEnd.
    function anchor(bytes32 root, uint64 treeSize, uint64 periodStart, uint64 periodEnd) external {
        if (!gateways[msg.sender]) revert NotGateway(msg.sender);
        if (anchors[root].treeSize != 0) revert RootAlreadyAnchored(root);
        if (treeSize <= latestTreeSize) revert TreeSizeNotIncreasing(treeSize, latestTreeSize);
        if (periodEnd < periodStart) revert InvalidPeriod(periodStart, periodEnd);
        anchors[root] = Anchor(treeSize, periodStart, periodEnd, msg.sender,
                               uint64(block.timestamp), uint64(block.number));
        latestRoot = root;
        latestTreeSize = treeSize;
        anchorCount += 1;
        emit Anchored(root, treeSize, periodStart, periodEnd, msg.sender);
    }

    /// @notice The anchor of a root; treeSize == 0 means the root was never anchored.
    function anchorOf(bytes32 root) external view returns (uint64 treeSize, uint64 periodStart,
            uint64 periodEnd, address gateway, uint64 timestamp, uint64 blockNumber) {
        Anchor storage a = anchors[root];
        return (a.treeSize, a.periodStart, a.periodEnd, a.gateway, a.timestamp, a.blockNumber);
    }

    /// @notice The most recently anchored root and its tree size (zero values before the first anchor).
    function latest() external view returns (bytes32 root, uint64 treeSize) {
        return (latestRoot, latestTreeSize);
    }

    /// @notice Whether an address is currently an active gateway.
    function isGateway(address account) external view returns (bool) {
        return gateways[account];
    }
}
