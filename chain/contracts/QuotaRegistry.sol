// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title QuotaRegistry — emission quotas set by the regulator per enterprise and year
/// @notice The regulator sets (and may later revise) the quota of an enterprise for a compliance year,
///         in kilograms of CO2-equivalent. Every setting is kept: the current quota is the last one,
///         the history is readable entry by entry, and each change is an event with the previous value.
contract QuotaRegistry {
    struct Entry {
        uint256 amountKg;      // quota [kg CO2e]
        uint64 setAt;          // block of the setting
        uint64 timestamp;      // block time [unix seconds]
        bytes32 reason;        // short reason code or reference, ASCII right-padded
    }

    address public immutable regulator;
    mapping(bytes32 => mapping(uint16 => Entry[])) private entries;

    event QuotaSet(bytes32 indexed enterprise, uint16 indexed year, uint256 amountKg, uint256 previousKg,
                   uint256 revision, bytes32 reason);

    error NotRegulator(address caller);
    error ZeroAddress();
    error InvalidYear(uint16 year);

    constructor(address regulatorAccount) {
        if (regulatorAccount == address(0)) revert ZeroAddress();
        regulator = regulatorAccount;
    }

    /// @notice Set the quota of `enterprise` for `year` [kg CO2e]. Regulator only.
    function setQuota(bytes32 enterprise, uint16 year, uint256 amountKg, bytes32 reason) external {
        if (msg.sender != regulator) revert NotRegulator(msg.sender);
        if (year < 2000 || year > 2200) revert InvalidYear(year);
        Entry[] storage list = entries[enterprise][year];
        uint256 previous = list.length == 0 ? 0 : list[list.length - 1].amountKg;
        list.push(Entry(amountKg, uint64(block.number), uint64(block.timestamp), reason));
        emit QuotaSet(enterprise, year, amountKg, previous, list.length, reason);
    }

    /// @notice The current quota (revisions == 0: never set).
    function quotaOf(bytes32 enterprise, uint16 year) external view returns (uint256 amountKg,
            uint256 revisions, uint64 setAt, uint64 timestamp, bytes32 reason) {
        Entry[] storage list = entries[enterprise][year];
        if (list.length == 0) return (0, 0, 0, 0, bytes32(0));
        Entry storage e = list[list.length - 1];
        return (e.amountKg, list.length, e.setAt, e.timestamp, e.reason);
    }

    /// @notice Revision `index` (0 = first) of a quota.
    function quotaAt(bytes32 enterprise, uint16 year, uint256 index) external view returns (uint256 amountKg,
            uint64 setAt, uint64 timestamp, bytes32 reason) {
        Entry storage e = entries[enterprise][year][index];
        return (e.amountKg, e.setAt, e.timestamp, e.reason);
    }
}
