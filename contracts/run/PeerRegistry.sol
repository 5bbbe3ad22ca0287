// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RunClock} from "./RunClock.sol";

/**
 * @title PeerRegistry
 * @notice The permissionless peer registry: maxPeers slots, each held with a refundable bond. A slot is
 * freed when its peer exits or is evicted (after evictAfterRounds consecutive scored rounds with a zero
 * median, applied by finalize), and the next registration reuses it, so a registry filled by idle
 * sybils empties again by itself. Rules (docs/contract.md "Peers"):
 * - the bond is refunded on exit iff the peer is in good standing: it has had a positive median at least
 *   once and its last scored round had a positive median (no strikes); otherwise it is forfeited;
 * - eviction always forfeits the bond. Forfeited bonds stay locked in this contract (nobody profits from
 *   evicting, so nobody is paid to censor);
 * - a slot's scores count for a round only if its holder registered no later than that round, so a slot
 *   reused mid-way never inherits its previous holder's scores or rewards.
 */
abstract contract PeerRegistry is RunClock, ReentrancyGuard {
    /// @dev Upper bound of maxPeers: finalize's closing step reads every slot once.
    uint256 internal constant _MAX_PEERS = 1024;
    /// @dev The only chain id (anvil / hardhat) on which a run may take no bond.
    uint256 private constant _DEV_CHAIN_ID = 31337;

    struct Peer {
        address account; // zero: free slot
        uint32 registeredRound; // rounds before it are not this holder's; rounds up to it never strike
        uint32 rating; // EMA of 256·median (24 bits used): the gather-set ranking key
        uint16 strikes; // consecutive scored rounds with a zero median
        bool proven; // had a positive median at least once
    }

    uint16 private immutable _maxPeers;
    uint16 private immutable _evictAfterRounds;
    uint128 private immutable _peerBond;

    Peer[] private _peers;
    mapping(address account => uint256) private _peerIndexPlus1;
    uint16[] private _freeSlots;
    uint256 private _occupied;
    uint256 private _forfeited;

    /// @param p run parameters; this contract checks and keeps the registry ones.
    constructor(RunParams memory p) {
        if (p.maxPeers == 0 || p.maxPeers > _MAX_PEERS) revert TrainingRunInvalidParams("maxPeers");
        if (p.gatherSize == 0 || p.gatherSize > p.maxPeers) revert TrainingRunInvalidParams("gatherSize");
        if (p.evictAfterRounds == 0) revert TrainingRunInvalidParams("evictAfterRounds");
        // A free registry is a sybil magnet: only a dev chain may run without a bond.
        if (p.peerBond == 0 && block.chainid != _DEV_CHAIN_ID) revert TrainingRunInvalidParams("peerBond");
        _maxPeers = p.maxPeers;
        _evictAfterRounds = p.evictAfterRounds;
        _peerBond = p.peerBond;
    }

    /// @notice Registers the sender as a peer, locking exactly peerBond wei (the address is the identity,
    /// the same key as its libp2p PeerId). Takes a freed slot if there is one. `metadata` is emitted only.
    function registerPeer(bytes calldata metadata) external payable returns (uint16 index) {
        if (_peerIndexPlus1[msg.sender] != 0) revert TrainingRunPeerAlreadyRegistered(msg.sender);
        if (msg.value != _peerBond) revert TrainingRunBondMismatch(msg.value, _peerBond);
        Peer memory p = Peer({
            account: msg.sender,
            registeredRound: uint32(_roundNow()),
            rating: 0,
            strikes: 0,
            proven: false
        });
        uint256 free = _freeSlots.length;
        if (free != 0) {
            index = _freeSlots[free - 1];
            _freeSlots.pop();
            _peers[index] = p;
        } else {
            if (_peers.length >= _maxPeers) revert TrainingRunPeerRegistryFull(_maxPeers);
            index = uint16(_peers.length);
            _peers.push(p);
        }
        ++_occupied;
        _peerIndexPlus1[msg.sender] = uint256(index) + 1;
        emit PeerRegistered(msg.sender, index, msg.value, metadata);
    }

    /// @notice Leaves the registry and frees the slot; the bond is refunded iff the peer is in good
    /// standing (see the contract notice). Unfinalized rounds no longer pay this slot: exit after the
    /// last round you published has been finalized. Unclaimed rewards stay claimable.
    function exitPeer() external nonReentrant returns (uint256 refund) {
        uint256 idx1 = _peerIndexPlus1[msg.sender];
        if (idx1 == 0) revert TrainingRunPeerNotRegistered(msg.sender);
        Peer storage p = _peers[idx1 - 1];
        refund = p.proven && p.strikes == 0 ? _peerBond : 0;
        if (refund == 0) _forfeited += _peerBond;
        _free(idx1 - 1, msg.sender);
        emit PeerExited(msg.sender, uint16(idx1 - 1), refund);
        if (refund != 0) {
            (bool ok, ) = payable(msg.sender).call{value: refund}("");
            if (!ok) revert TrainingRunTransferFailed(msg.sender, refund);
        }
    }

    /// @notice Registry slots in use or freed (indices run 0 … peerCount − 1; a freed slot's address is 0).
    function peerCount() external view returns (uint256) {
        return _peers.length;
    }

    /// @notice Slots held by a peer now.
    function activePeerCount() external view returns (uint256) {
        return _occupied;
    }

    /// @notice Address holding slot `index` (zero if the slot is free).
    function peerAt(uint256 index) external view returns (address) {
        return _peers[index].account;
    }

    /// @notice Every slot's holder by index, zero for free slots (fine for <= 1024 slots).
    function peers() external view returns (address[] memory list) {
        uint256 count = _peers.length;
        list = new address[](count);
        for (uint256 i = 0; i < count; ++i) list[i] = _peers[i].account;
    }

    /// @notice True while `account` holds a slot.
    function isPeer(address account) external view returns (bool) {
        return _peerIndexPlus1[account] != 0;
    }

    /// @notice Registry index of `account`; reverts if it holds no slot.
    function peerIndex(address account) external view returns (uint16) {
        uint256 idx1 = _peerIndexPlus1[account];
        if (idx1 == 0) revert TrainingRunPeerNotRegistered(account);
        return uint16(idx1 - 1);
    }

    /// @notice EMA rating of slot `index` in score units times 256 (the gather-set ranking key).
    function peerRating(uint256 index) external view returns (uint256) {
        return _peers[index].rating;
    }

    /// @notice Everything the registry keeps about slot `index`.
    function peerInfo(uint256 index) external view returns (Peer memory) {
        return _peers[index];
    }

    /// @notice Bonds forfeited so far (locked in this contract for good).
    function forfeitedBonds() external view returns (uint256) {
        return _forfeited;
    }

    /// @dev The registry parameters, for runParams().
    function _registryParams() internal view returns (uint16 maxPeers, uint16 evictAfterRounds, uint128 peerBond) {
        return (_maxPeers, _evictAfterRounds, _peerBond);
    }

    /// @dev Number of slots (finalize iterates over them).
    function _slotCount() internal view returns (uint256) {
        return _peers.length;
    }

    /// @dev Slot `index`, for finalize's rating, strike and reward updates.
    function _slot(uint256 index) internal view returns (Peer storage) {
        return _peers[index];
    }

    /// @dev Writes slot `index` back after finalize updated its rating and strikes.
    function _setSlot(uint256 index, Peer memory p) internal {
        _peers[index] = p;
    }

    /// @dev Scores of slot `index` count for `round` iff it is held by a peer registered by then.
    function _counts(Peer memory p, uint256 round) internal pure returns (bool) {
        return p.account != address(0) && p.registeredRound <= round;
    }

    /**
     * @dev Records `round`'s `median` for the slot held by `p` (at `index`): a zero median in a round
     * after its registration round is a strike, a positive one clears them; at evictAfterRounds strikes
     * the peer is evicted and its bond forfeited. Returns the updated slot (account zero if evicted).
     */
    function _strike(Peer memory p, uint256 index, uint256 round, uint256 median) internal returns (Peer memory) {
        if (median != 0) {
            p.strikes = 0;
            p.proven = true;
        } else if (round > p.registeredRound) {
            ++p.strikes;
            if (p.strikes >= _evictAfterRounds) {
                _forfeited += _peerBond;
                emit PeerEvicted(p.account, uint16(index), round, _peerBond);
                _free(index, p.account);
                Peer memory freed;
                return freed;
            }
        }
        return p;
    }

    /// @dev Frees slot `index` held by `account`.
    function _free(uint256 index, address account) private {
        delete _peers[index];
        delete _peerIndexPlus1[account];
        _freeSlots.push(uint16(index));
        --_occupied;
    }
}
