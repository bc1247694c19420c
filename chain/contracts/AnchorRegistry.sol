// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title AnchorRegistry — tanjian ledger roots anchored by registered plant gateways
/// @notice An active gateway of the DeviceRegistry anchors the RFC 9162 Merkle root of its plant's
///         ledger with the tree size (batches covered) and the measurement period. Identity lives in
///         the DeviceRegistry only: this contract asks it, at anchoring time, whether the sender is an
///         active gateway; the gateway's plant and responsible person are read back from it (a key's
///         registration never changes, so they are those of the anchoring time).
///         Each plant has its own log: tree sizes only grow per plant, so every anchored root extends
///         the plant's previous one (checked off-chain with a consistency proof). A root is never
///         overwritten.
contract AnchorRegistry {
    struct Anchor {           // two storage slots
        uint64 treeSize;      // leaves (journal batches) covered by the root
        uint64 periodStart;   // first reading time covered [unix seconds, UTC]
        uint64 periodEnd;     // last reading time covered [unix seconds, UTC]
        uint64 blockNumber;   // block of the anchoring transaction
        address gateway;      // address that anchored the root
        uint64 timestamp;     // block time of the anchoring transaction [unix seconds]
    }

    struct Head {
        bytes32 root;
        uint64 treeSize;
    }

    DeviceRegistry public immutable devices;
    mapping(bytes32 => Anchor) private anchors;
    mapping(bytes32 => Head) private heads;
    uint64 public anchorCount;

    event Anchored(bytes32 indexed root, bytes32 indexed plant, uint64 treeSize, uint64 periodStart,
                   uint64 periodEnd, address indexed gateway, address responsible);

    error NotGateway(address caller);
    error ZeroAddress();
    error RootAlreadyAnchored(bytes32 root);
    error TreeSizeNotIncreasing(uint64 treeSize, uint64 latestTreeSize);
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);

    constructor(DeviceRegistry deviceRegistry) {
        if (address(deviceRegistry) == address(0)) revert ZeroAddress();
        devices = deviceRegistry;
    }

    /// @notice Anchor a ledger root covering treeSize batches read between periodStart and periodEnd.
    function anchor(bytes32 root, uint64 treeSize, uint64 periodStart, uint64 periodEnd) external {
        (DeviceRegistry.Kind kind, bytes32 plant, address owner,, uint64 revokedAt) = devices.keyOf(msg.sender);
        if (kind != DeviceRegistry.Kind.Gateway || revokedAt != 0) revert NotGateway(msg.sender);
        if (anchors[root].treeSize != 0) revert RootAlreadyAnchored(root);
        Head storage head = heads[plant];
        if (treeSize <= head.treeSize) revert TreeSizeNotIncreasing(treeSize, head.treeSize);
        if (periodEnd < periodStart) revert InvalidPeriod(periodStart, periodEnd);
        anchors[root] = Anchor(treeSize, periodStart, periodEnd, uint64(block.number), msg.sender,
                               uint64(block.timestamp));
        head.root = root;
        head.treeSize = treeSize;
        anchorCount += 1;
        emit Anchored(root, plant, treeSize, periodStart, periodEnd, msg.sender, owner);
    }

    /// @notice The anchor of a root; treeSize == 0 means the root was never anchored.
    function anchorOf(bytes32 root) external view returns (uint64 treeSize, uint64 periodStart,
            uint64 periodEnd, address gateway, uint64 timestamp, uint64 blockNumber, bytes32 plant,
            address responsible) {
        Anchor storage a = anchors[root];
        if (a.treeSize != 0) (, plant, responsible,,) = devices.keyOf(a.gateway);
        return (a.treeSize, a.periodStart, a.periodEnd, a.gateway, a.timestamp, a.blockNumber, plant,
                responsible);
    }

    /// @notice The plant's most recently anchored root and its tree size (zeros before its first anchor).
    function latest(bytes32 plant) external view returns (bytes32 root, uint64 treeSize) {
        Head storage h = heads[plant];
        return (h.root, h.treeSize);
    }

    /// @notice Whether an address is an active gateway now (asks the DeviceRegistry).
    function isGateway(address account) external view returns (bool) {
        return devices.isActiveGateway(account);
    }
}
