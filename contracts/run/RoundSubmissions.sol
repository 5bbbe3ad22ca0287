// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ScoreMath} from "../lib/ScoreMath.sol";
import {PeerRegistry} from "./PeerRegistry.sol";
import {ValidatorStakes} from "./ValidatorStakes.sol";

/**
 * @title RoundSubmissions
 * @notice Validators' verdicts on a round, kept until the round is finalized. A submission carries the
 * validator's snapshot stake (its weight), its model hash H(θ_{r+1}), the root of the payloads it
 * aggregated, its scores (16 big-endian uint16 per word) and the aggregated peers as a bitmap (256 per
 * word). Scores stay in storage (finalize reads them page by page); deleting them again would cost the
 * finalizer more than the refund is worth.
 */
abstract contract RoundSubmissions is PeerRegistry, ValidatorStakes {
    /// @dev One payload-list entry: a big-endian uint16 peer index and the payload's sha256.
    uint256 private constant _PAYLOAD_ENTRY = 34;
    /// @dev Top bit of a _submissionOf entry: the validator recorded a checkpoint for that round.
    uint256 internal constant _CHECKPOINTED = 1 << 255;

    struct Submission {
        address validator;
        uint96 weight; // stake in the round's snapshot
        bytes32 modelHash;
        bytes32 payloadRoot;
        uint256[] scoreWords;
        uint256[] includedWords;
    }

    struct RoundData {
        uint64 prevPlus1; // previous round that received submissions, plus one (0: none)
        RoundStatus status;
        Submission[] submissions;
    }

    mapping(uint256 round => RoundData) private _rounds;
    mapping(uint256 round => mapping(address validator => uint256)) private _submissionOf; // index + 1 | flag
    uint64 private _latestSubmittedPlus1;

    /**
     * @notice A verdict on `round` by a validator of its stake snapshot, once, inside its scoring window.
     * @param modelHash H(θ_{round+1}) the validator computed by aggregating exactly `payloads`.
     * @param payloads the updates it aggregated: 34-byte entries (big-endian uint16 peer index, bytes32
     * sha256 of the payload), indices strictly increasing; its keccak256 is the payload root.
     * @param scores one big-endian uint16 per peer index; peers past the end score 0.
     * @param components per-peer score components, emitted only (layout in docs/contract.md).
     */
    function submitScores(
        uint256 round,
        bytes32 modelHash,
        bytes calldata payloads,
        bytes calldata scores,
        bytes calldata components
    ) external {
        uint256 weight = _checkSubmission(round, modelHash, scores.length);
        bytes32 root = _store(round, modelHash, payloads, scores, weight);
        emit ScoresSubmitted(round, msg.sender, modelHash, root, weight, payloads, scores, components);
    }

    /// @notice True iff `validator` submitted for `round`.
    function hasSubmitted(uint256 round, address validator) external view returns (bool) {
        return _submissionOf[round][validator] != 0;
    }

    /// @notice Number of submissions for `round`.
    function submissionCount(uint256 round) external view returns (uint256) {
        return _rounds[round].submissions.length;
    }

    /// @notice Where `round` stands (Open also for a round nobody submitted to: it needs no finalize).
    function roundStatus(uint256 round) external view returns (RoundStatus) {
        return _rounds[round].status;
    }

    /// @dev The stored round (finalize reads and updates it).
    function _round(uint256 round) internal view returns (RoundData storage) {
        return _rounds[round];
    }

    /// @dev `validator`'s entry for `round`: submission index + 1 (0: none), with the _CHECKPOINTED flag.
    function _submissionEntry(uint256 round, address validator) internal view returns (uint256) {
        return _submissionOf[round][validator];
    }

    /// @dev Marks that `validator` recorded a checkpoint for `round`.
    function _markCheckpointed(uint256 round, address validator) internal {
        _submissionOf[round][validator] |= _CHECKPOINTED;
    }

    /// @dev The previous round with submissions must be finalized (or skipped) before `round`.
    function _previousOf(uint256 round) internal view returns (uint256 prevPlus1) {
        return _rounds[round].prevPlus1;
    }

    /// @dev Every check of submitScores except the payload list's; returns the sender's snapshot weight.
    function _checkSubmission(uint256 round, bytes32 modelHash, uint256 scoresLength) private view returns (uint256) {
        (uint256 opensAt, uint256 closesAt) = scoringWindow(round);
        if (block.timestamp < opensAt) revert TrainingRunScoringWindowNotOpen(round, opensAt);
        if (block.timestamp >= closesAt) revert TrainingRunScoringWindowClosed(round, closesAt);
        if (_rounds[round].status != RoundStatus.Open) revert TrainingRunRoundAlreadyFinalized(round);
        if (_submissionOf[round][msg.sender] != 0) revert TrainingRunAlreadySubmitted(round, msg.sender);
        uint256 weight = stakeAt(msg.sender, round);
        if (weight == 0) revert TrainingRunNotInSnapshot(round, msg.sender);
        if (modelHash == bytes32(0)) revert TrainingRunZeroModelHash();
        uint256 nPeers = _slotCount();
        if (scoresLength % 2 != 0 || scoresLength > nPeers * 2) {
            revert TrainingRunScoresLengthInvalid(scoresLength, nPeers);
        }
        return weight;
    }

    /// @dev Stores the sender's submission for `round`; returns its payload root.
    function _store(
        uint256 round,
        bytes32 modelHash,
        bytes calldata payloads,
        bytes calldata scores,
        uint256 weight
    ) private returns (bytes32 root) {
        RoundData storage rd = _rounds[round];
        uint256 n = rd.submissions.length;
        if (n == 0) {
            // First submission of this round: link it behind the previous round that had any, so
            // finalize can enforce order without walking over empty rounds (they need no finalize).
            rd.prevPlus1 = _latestSubmittedPlus1;
            _latestSubmittedPlus1 = uint64(round + 1);
        }
        root = keccak256(payloads);
        Submission storage s = rd.submissions.push();
        s.validator = msg.sender;
        s.weight = uint96(weight);
        s.modelHash = modelHash;
        s.payloadRoot = root;
        s.scoreWords = _scoreWords(scores);
        s.includedWords = _includedWords(payloads, _slotCount());
        _submissionOf[round][msg.sender] = n + 1;
    }

    /// @dev Calldata scores → 32-byte words (16 scores each); the last word's bytes past the end are zero.
    function _scoreWords(bytes calldata scores) private pure returns (uint256[] memory words) {
        uint256 len = scores.length;
        words = new uint256[]((len + 31) / 32);
        for (uint256 w = 0; w < words.length; ++w) {
            uint256 word;
            // Reads 32 bytes of calldata at the word's offset; bytes past `len` belong to other
            // arguments and are masked off below.
            assembly {
                word := calldataload(add(scores.offset, mul(w, 32)))
            }
            uint256 left = len - w * 32;
            if (left < 32) word &= ~(type(uint256).max >> (left * 8));
            words[w] = word;
        }
    }

    /// @dev Checks the payload list (entries, strictly increasing indices < nPeers) and returns the
    /// aggregated peers as bitmap words.
    function _includedWords(bytes calldata payloads, uint256 nPeers) private pure returns (uint256[] memory words) {
        uint256 len = payloads.length;
        if (len % _PAYLOAD_ENTRY != 0) revert TrainingRunPayloadsInvalid(len - (len % _PAYLOAD_ENTRY), nPeers);
        words = new uint256[]((nPeers + 255) / 256);
        uint256 next = 0; // the smallest index the next entry may have
        for (uint256 off = 0; off < len; off += _PAYLOAD_ENTRY) {
            uint256 index = (uint256(uint8(payloads[off])) << 8) | uint8(payloads[off + 1]);
            if (index < next || index >= nPeers) revert TrainingRunPayloadsInvalid(off, nPeers);
            next = index + 1;
            words[index >> 8] |= ScoreMath.bitIn(index);
        }
    }
}
