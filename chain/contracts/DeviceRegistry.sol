// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title DeviceRegistry — gateway and device keys of the plants, with revocation
/// @notice The admin (the consortium operator that deploys the set) registers keys: a gateway key
///         (signs the plant's journal batches and anchors its ledger roots) or a device key (signs
///         MQTT payloads at the meter), each bound to a plant and to the person responsible for it
///         (`owner`). The admin or that owner revokes a key. A key is registered once and a
///         revocation is final: a compromised key never comes back, a new key is registered instead.
///         Blocks of registration and revocation are kept, so anyone can ask whether a key was active
///         when a given block was mined.
contract DeviceRegistry {
    enum Kind { None, Gateway, Device }

    struct Key {
        Kind kind;
        bytes32 plant;          // plant id, ASCII right-padded with zero bytes
        address owner;          // person responsible for the key
        uint64 registeredAt;    // block of registration
        uint64 revokedAt;       // block of revocation, 0 while active
    }

    address public immutable admin;
    mapping(address => Key) private keys;
    uint64 public keyCount;

    event KeyRegistered(address indexed key, Kind kind, bytes32 indexed plant, address indexed owner);
    event KeyRevoked(address indexed key, bytes32 indexed plant, address by);

    error NotAdmin(address caller);
    error NotAdminOrOwner(address caller, address key);
    error ZeroAddress();
    error InvalidKind();
    error AlreadyRegistered(address key);
    error NotRegistered(address key);
    error AlreadyRevoked(address key, uint64 revokedAt);

    constructor() {
        admin = msg.sender;
    }

    /// @notice Register `key` as a gateway or device of `plant`, under the responsibility of `owner`.
    function register(address key, Kind kind, bytes32 plant, address owner) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        if (key == address(0) || owner == address(0)) revert ZeroAddress();
        if (kind == Kind.None) revert InvalidKind();
        if (keys[key].kind != Kind.None) revert AlreadyRegistered(key);
        keys[key] = Key(kind, plant, owner, uint64(block.number), 0);
        keyCount += 1;
        emit KeyRegistered(key, kind, plant, owner);
    }

    /// @notice Revoke `key` for good. The admin or the key's owner.
    function revoke(address key) external {
        Key storage k = keys[key];
        if (k.kind == Kind.None) revert NotRegistered(key);
        if (msg.sender != admin && msg.sender != k.owner) revert NotAdminOrOwner(msg.sender, key);
        if (k.revokedAt != 0) revert AlreadyRevoked(key, k.revokedAt);
        k.revokedAt = uint64(block.number);
        emit KeyRevoked(key, k.plant, msg.sender);
    }

    /// @notice Everything recorded about `key` (kind None: never registered).
    function keyOf(address key) external view returns (Kind kind, bytes32 plant, address owner,
            uint64 registeredAt, uint64 revokedAt) {
        Key storage k = keys[key];
        return (k.kind, k.plant, k.owner, k.registeredAt, k.revokedAt);
    }

    /// @notice Whether `key` is registered as `kind` and not revoked now.
    function isActive(address key, Kind kind) public view returns (bool) {
        Key storage k = keys[key];
        return k.kind == kind && kind != Kind.None && k.revokedAt == 0;
    }

    /// @notice Whether `key` is an active gateway now.
    function isActiveGateway(address key) external view returns (bool) {
        return isActive(key, Kind.Gateway);
    }

    /// @notice Whether `key` was registered as `kind` and not yet revoked in block `blockNumber`.
    function activeAt(address key, Kind kind, uint64 blockNumber) external view returns (bool) {
        Key storage k = keys[key];
        return k.kind == kind && kind != Kind.None && k.registeredAt <= blockNumber
            && (k.revokedAt == 0 || blockNumber < k.revokedAt);
    }
}
