// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

interface IGatewayKeys {
    function keyOf(address key) external view returns (uint8 kind, bytes32 plant, address owner,
        uint64 registeredAt, uint64 revokedAt);
}

/// @title ReportRequests — the regulator asks an enterprise for a report; the enterprise answers on chain
/// @notice The regulator enrols the enterprises it supervises, then requests a report of one of them for a
///         past period under a methodology. The enterprise's workspace sees the request in the events,
///         issues the report, ledgers and anchors it, and fulfils the request with an active gateway key of
///         that enterprise (DeviceRegistry), naming the SHA-256 of the figures it submitted. Request and
///         fulfilment times are kept, so the latency of each answer is public.
contract ReportRequests {
    struct Request {
        bytes32 enterprise;     // enterprise (plant) id, ASCII right-padded
        uint64 periodStart;     // unix seconds, inclusive
        uint64 periodEnd;       // unix seconds, exclusive; not after the request's block time
        bytes32 methodology;    // methodology id, ASCII right-padded
        uint64 requestedAt;     // block time of the request [unix seconds]
        uint64 fulfilledAt;     // block time of the fulfilment, 0 while open
        bytes32 figuresSha256;  // SHA-256 of the submitted figures (canonical JSON)
        address gateway;        // the enterprise's gateway that fulfilled it
    }

    address public immutable regulator;
    IGatewayKeys public immutable devices;
    mapping(bytes32 => bool) public enrolled;
    Request[] private requests;

    event Enrolled(bytes32 indexed enterprise);
    event Requested(uint256 indexed id, bytes32 indexed enterprise, uint64 periodStart, uint64 periodEnd,
                    bytes32 methodology);
    event Fulfilled(uint256 indexed id, bytes32 indexed enterprise, bytes32 figuresSha256, address gateway,
                    uint64 latency);

    error NotRegulator(address caller);
    error ZeroAddress();
    error UnknownEnterprise(bytes32 enterprise);
    error BadPeriod(uint64 periodStart, uint64 periodEnd);
    error PeriodNotOver(uint64 periodEnd, uint64 now_);
    error UnknownRequest(uint256 id);
    error AlreadyFulfilled(uint256 id);
    error NotGatewayOf(address caller, bytes32 enterprise);

    constructor(address regulatorAccount, address deviceRegistry) {
        if (regulatorAccount == address(0) || deviceRegistry == address(0)) revert ZeroAddress();
        regulator = regulatorAccount;
        devices = IGatewayKeys(deviceRegistry);
    }

    /// @notice Put `enterprise` under supervision (regulator only).
    function enrol(bytes32 enterprise) external {
        if (msg.sender != regulator) revert NotRegulator(msg.sender);
        enrolled[enterprise] = true;
        emit Enrolled(enterprise);
    }

    /// @notice Request the report of `enterprise` for [periodStart, periodEnd) under `methodology`.
    function request(bytes32 enterprise, uint64 periodStart, uint64 periodEnd, bytes32 methodology)
            external returns (uint256 id) {
        if (msg.sender != regulator) revert NotRegulator(msg.sender);
        if (!enrolled[enterprise]) revert UnknownEnterprise(enterprise);
        if (periodEnd <= periodStart) revert BadPeriod(periodStart, periodEnd);
        if (periodEnd > block.timestamp) revert PeriodNotOver(periodEnd, uint64(block.timestamp));
        id = requests.length;
        requests.push(Request(enterprise, periodStart, periodEnd, methodology, uint64(block.timestamp), 0,
                              bytes32(0), address(0)));
        emit Requested(id, enterprise, periodStart, periodEnd, methodology);
    }

    /// @notice Answer request `id` with the SHA-256 of the submitted figures; an active gateway of the
    ///         requested enterprise only.
    function fulfil(uint256 id, bytes32 figuresSha256) external {
        if (id >= requests.length) revert UnknownRequest(id);
        Request storage r = requests[id];
        if (r.fulfilledAt != 0) revert AlreadyFulfilled(id);
        (uint8 kind, bytes32 plant,,, uint64 revokedAt) = devices.keyOf(msg.sender);
        if (kind != 1 || plant != r.enterprise || revokedAt != 0) revert NotGatewayOf(msg.sender, r.enterprise);
        r.fulfilledAt = uint64(block.timestamp);
        r.figuresSha256 = figuresSha256;
        r.gateway = msg.sender;
        emit Fulfilled(id, r.enterprise, figuresSha256, msg.sender, r.fulfilledAt - r.requestedAt);
    }

    /// @notice Request `id` as recorded.
    function requestOf(uint256 id) external view returns (Request memory) {
        if (id >= requests.length) revert UnknownRequest(id);
        return requests[id];
    }

    /// @notice How many requests were made.
    function requestCount() external view returns (uint256) {
        return requests.length;
    }
}
