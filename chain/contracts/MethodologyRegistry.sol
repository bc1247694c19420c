// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title MethodologyRegistry — accounting methodology versions published by the industry association
/// @notice The association publishes versions of a methodology: its id, a version label, the SHA-256 of
///         the methodology package (see chain/methodology.py for how a directory is hashed) and the
///         dates it is effective from (inclusive) and to (exclusive; 0 = open-ended). A published
///         version is never overwritten or withdrawn: a correction is a new version. The version active
///         at a time is the one with the latest effectiveFrom not after that time whose window holds it.
///         Each version also records where its package can be fetched (a URI of a tar archive of the
///         package directory): a gateway fetches it, recomputes the package hash and activates it only
///         if it is the published one (chain/methodology_sync.py). The URI is a pointer, the hash the seal.
contract MethodologyRegistry {
    struct Version {
        bytes32 packageSha256;
        uint64 effectiveFrom;   // [unix seconds, UTC], inclusive
        uint64 effectiveTo;     // [unix seconds, UTC], exclusive; 0 = no end
        uint64 publishedAt;     // block of publication
        string packageUri;      // where the package's bytes can be fetched (tar archive); may be empty
    }

    address public immutable association;
    mapping(bytes32 => mapping(bytes32 => Version)) private versions;
    mapping(bytes32 => bytes32[]) private versionLists;

    event MethodologyPublished(bytes32 indexed id, bytes32 indexed version, bytes32 packageSha256,
                               uint64 effectiveFrom, uint64 effectiveTo, string packageUri);

    error NotAssociation(address caller);
    error ZeroAddress();
    error VersionExists(bytes32 id, bytes32 version);
    error EmptyHash();
    error InvalidWindow(uint64 effectiveFrom, uint64 effectiveTo);

    constructor(address associationAccount) {
        if (associationAccount == address(0)) revert ZeroAddress();
        association = associationAccount;
    }

    /// @notice Publish a methodology version. Association only; a version label is used once per id.
    function publish(bytes32 id, bytes32 version, bytes32 packageSha256, uint64 effectiveFrom,
                     uint64 effectiveTo, string calldata packageUri) external {
        if (msg.sender != association) revert NotAssociation(msg.sender);
        if (packageSha256 == bytes32(0)) revert EmptyHash();
        if (effectiveTo != 0 && effectiveTo <= effectiveFrom) revert InvalidWindow(effectiveFrom, effectiveTo);
        if (versions[id][version].publishedAt != 0) revert VersionExists(id, version);
        versions[id][version] = Version(packageSha256, effectiveFrom, effectiveTo, uint64(block.number),
                                        packageUri);
        versionLists[id].push(version);
        emit MethodologyPublished(id, version, packageSha256, effectiveFrom, effectiveTo, packageUri);
    }

    /// @notice A published version (publishedAt == 0: no such version).
    function versionOf(bytes32 id, bytes32 version) external view returns (bytes32 packageSha256,
            uint64 effectiveFrom, uint64 effectiveTo, uint64 publishedAt) {
        Version storage v = versions[id][version];
        return (v.packageSha256, v.effectiveFrom, v.effectiveTo, v.publishedAt);
    }

    /// @notice Where the package of a published version can be fetched ("" when none was given).
    function uriOf(bytes32 id, bytes32 version) external view returns (string memory) {
        return versions[id][version].packageUri;
    }

    /// @notice Version labels of a methodology in publication order.
    function versionsOf(bytes32 id) external view returns (bytes32[] memory) {
        return versionLists[id];
    }

    /// @notice The version effective at `when` (found == false when none is).
    function activeAt(bytes32 id, uint64 when) external view returns (bool found, bytes32 version,
            bytes32 packageSha256, uint64 effectiveFrom, uint64 effectiveTo) {
        bytes32[] storage list = versionLists[id];
        for (uint256 i = 0; i < list.length; i++) {
            Version storage v = versions[id][list[i]];
            if (v.effectiveFrom > when || (v.effectiveTo != 0 && when >= v.effectiveTo)) continue;
            if (!found || v.effectiveFrom >= effectiveFrom) {
                (found, version, packageSha256, effectiveFrom, effectiveTo) =
                    (true, list[i], v.packageSha256, v.effectiveFrom, v.effectiveTo);
            }
        }
    }
}
