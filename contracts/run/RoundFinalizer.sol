// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ScoreMath} from "../lib/ScoreMath.sol";
import {RoundSubmissions} from "./RoundSubmissions.sol";

/**
 * @title RoundFinalizer
 * @notice Finalizes rounds in order, in pages, so that no transaction grows with the registry:
 * finalizeRoundStep(round, maxPeers) is permissionless and is repeated until it returns true.
 * 1. start: early (before the window closes) only once every validator of the round's stake snapshot has
 *    submitted; the canonical outcome is the (model hash, payload root) pair backed by more than half of
 *    the snapshot stake, else the round is skipped (RoundSkipped: no hash, rewards or gather set);
 * 2. medians pass: per slot the stake-weighted median (ScoreMath), each validator's deviation from it,
 *    the slot's rating and strikes (eviction), and the top-G candidates of the next gather set;
 * 3. rewards pass: the peer pool pro rata to the medians;
 * 4. close: the validator share to validators that agreed and stayed within the outlier band, the next
 *    gather set, and RoundFinalized.
 * Pages carry their state in storage that every round reuses (medians, deviations, top-G keys, held
 * slots), so finalize writes no new storage per round besides the round's hash, root and status.
 */
abstract contract RoundFinalizer is RoundSubmissions {
    using ScoreMath for uint256;

    /// @dev Finalization of one round across transactions (one at a time: rounds finalize in order).
    struct Progress {
        uint64 roundPlus1; // 0: none in progress
        uint8 pass; // _PASS_MEDIANS, _PASS_REWARDS or _PASS_CLOSE
        uint16 cursor; // next slot of the pass
        uint16 slots; // registry slots when finalization began (later slots are not this round's)
        uint16 scoredPeers; // slots whose scores counted
        uint8 canonical; // first submission with the canonical (hash, root)
        uint32 scoreSum; // sum of the medians (<= 1024 · 65535)
        uint8 topFilled; // keys in _topWords
        bool anyRated; // some held slot has a positive rating
        uint128 snapshotWeight;
        uint128 submittedWeight;
        uint128 agreeingWeight;
        uint128 peerRewards;
    }

    /// @dev What a median page needs in memory (keeps the stack shallow).
    struct Page {
        uint256 round;
        uint256 totalWeight;
        uint256[] weights;
        uint256[] words;
        uint256[] pairs;
        uint256[] deviation;
        uint256[] top;
    }

    uint256 private constant _BPS = 10_000;
    /// @dev Upper bound of gatherSize: every medians page merges its slots into the top-G keys.
    uint256 private constant _MAX_GATHER = 64;
    uint256 private constant _MAX_SCORE = 0xffff;
    uint256 private constant _RATING_ONE = 256; // ratings keep 8 fractional bits of a uint16 score
    uint256 private constant _KEY_BITS = 48; // a top-G key: rating (<= 24 bits) << 16 | (0xffff − index)
    uint256 private constant _KEYS_PER_WORD = 5;
    uint8 private constant _PASS_MEDIANS = 1;
    uint8 private constant _PASS_REWARDS = 2;
    uint8 private constant _PASS_CLOSE = 3;

    uint16 private immutable _gatherSize;
    uint16 private immutable _validatorShareBps;
    uint16 private immutable _ratingAlphaBps;
    uint16 private immutable _outlierBps;
    uint128 private immutable _rewardPerRound;

    mapping(uint256 round => bytes32) private _modelHashes;
    mapping(uint256 round => bytes32) private _payloadRoots;
    mapping(address account => uint256) private _pending;
    uint64 private _lastFinalizedPlus1;
    uint64 private _gatherSetRoundPlus1;
    bytes private _gatherSet;
    Progress private _progress;
    uint256[] private _medianWords; // 16 medians per word
    uint256[] private _deviationWords; // Σ|score − median| per submission, uint32 × 8 per word
    uint256[] private _topWords; // top-G keys, descending, 5 per word
    uint256[] private _heldWords; // slots held by a peer after the medians pass, 256 per word

    /// @param p run parameters; this contract checks and keeps the consensus and reward ones.
    constructor(RunParams memory p) {
        if (p.gatherSize > _MAX_GATHER) revert TrainingRunInvalidParams("gatherSize");
        if (p.validatorShareBps > _BPS) revert TrainingRunInvalidParams("validatorShareBps");
        if (p.ratingAlphaBps == 0 || p.ratingAlphaBps > _BPS) revert TrainingRunInvalidParams("ratingAlphaBps");
        if (p.outlierBps > _BPS) revert TrainingRunInvalidParams("outlierBps");
        _gatherSize = p.gatherSize;
        _validatorShareBps = p.validatorShareBps;
        _ratingAlphaBps = p.ratingAlphaBps;
        _outlierBps = p.outlierBps;
        _rewardPerRound = p.rewardPerRound;
    }

    /**
     * @notice Advances the finalization of `round` by at most `maxPeers` registry slots and returns true
     * once the round is finalized or skipped. Anyone may call it, repeatedly, until done: after the
     * scoring window, or earlier once every validator of the round's snapshot has submitted. The previous
     * round that received submissions must be done first; rounds without submissions need no call. Gas
     * per call grows with maxPeers × submissions (docs/contract.md "Gas": 64 is safe at every cap).
     */
    function finalizeRoundStep(uint256 round, uint256 maxPeers) external returns (bool done) {
        if (maxPeers == 0) revert TrainingRunZeroPageSize();
        RoundData storage rd = _round(round);
        if (rd.status == RoundStatus.Finalized || rd.status == RoundStatus.Skipped) {
            revert TrainingRunRoundAlreadyFinalized(round);
        }
        if (rd.status == RoundStatus.Open && _start(round, rd)) return true;
        Progress memory pr = _progress;
        uint256 budget = maxPeers;
        if (pr.pass == _PASS_MEDIANS) {
            budget -= _medianPage(round, rd.submissions, pr, budget);
            if (pr.cursor == pr.slots) (pr.pass, pr.cursor) = (_PASS_REWARDS, 0);
        }
        if (pr.pass == _PASS_REWARDS && budget != 0) {
            budget -= _rewardPage(round, pr, budget);
            if (pr.cursor == pr.slots) (pr.pass, pr.cursor) = (_PASS_CLOSE, 0);
        }
        if (pr.pass == _PASS_CLOSE && budget != 0) {
            _close(round, rd, pr);
            return true;
        }
        _progress = pr;
        return false;
    }

    /// @notice Canonical H(θ_{round+1}) of a finalized round; zero if not finalized, skipped or empty.
    function modelHashOf(uint256 round) public view returns (bytes32) {
        return _modelHashes[round];
    }

    /// @notice Canonical payload root of a finalized round (keccak256 of the sorted payload list).
    function payloadRootOf(uint256 round) public view returns (bytes32) {
        return _payloadRoots[round];
    }

    /// @notice The last finalized or skipped round (`exists` false before the first).
    function lastFinalizedRound() external view returns (bool exists, uint256 round) {
        if (_lastFinalizedPlus1 == 0) return (false, 0);
        return (true, _lastFinalizedPlus1 - 1);
    }

    /// @notice The finalization in progress, if any: its round, pass (1 medians, 2 rewards, 3 closing),
    /// next slot and the number of slots it covers.
    function finalizationProgress()
        external
        view
        returns (bool active, uint256 round, uint256 pass, uint256 cursor, uint256 slots)
    {
        Progress memory pr = _progress;
        if (pr.roundPlus1 == 0) return (false, 0, 0, 0, 0);
        return (true, pr.roundPlus1 - 1, pr.pass, pr.cursor, pr.slots);
    }

    /// @notice The gather set finalized with `round` (applies to round + 1's outer step). Before any
    /// finalization `exists` is false and the gather set is every registered peer.
    function lastGatherSet() external view returns (bool exists, uint256 round, bytes memory bitmap) {
        if (_gatherSetRoundPlus1 == 0) return (false, 0, "");
        return (true, _gatherSetRoundPlus1 - 1, _gatherSet);
    }

    /// @notice Unclaimed rewards of `account` (peer and validator rewards together).
    function pendingRewards(address account) external view returns (uint256) {
        return _pending[account];
    }

    /// @dev Takes the caller's unclaimed rewards (claim mints them).
    function _takePending(address account) internal returns (uint256 amount) {
        amount = _pending[account];
        _pending[account] = 0;
    }

    /// @dev The consensus and reward parameters, for runParams().
    function _consensusParams()
        internal
        view
        returns (uint16 gatherSize, uint16 validatorShareBps, uint16 ratingAlphaBps, uint16 outlierBps, uint128 reward)
    {
        return (_gatherSize, _validatorShareBps, _ratingAlphaBps, _outlierBps, _rewardPerRound);
    }

    // ---------------------------------------------------------------- start

    /// @dev Checks that `round` may be finalized and finds its canonical outcome; returns true if it was
    /// skipped for lack of quorum (then there is nothing more to do).
    function _start(uint256 round, RoundData storage rd) private returns (bool skipped) {
        uint256 n = rd.submissions.length;
        if (n == 0) revert TrainingRunRoundHasNoSubmissions(round);
        (, uint256 closesAt) = scoringWindow(round);
        (uint256 snapshotCount, uint256 snapshotWeight) = roundSnapshot(round);
        if (block.timestamp < closesAt && n < snapshotCount) revert TrainingRunRoundNotFinalizable(round, closesAt);
        if (rd.prevPlus1 > _lastFinalizedPlus1) revert TrainingRunPreviousRoundNotFinalized(rd.prevPlus1 - 1);

        (uint256 best, uint256 bestWeight, uint256 submitted) = _canonical(rd.submissions);
        if (bestWeight * 2 <= snapshotWeight) {
            rd.status = RoundStatus.Skipped;
            _lastFinalizedPlus1 = uint64(round + 1);
            emit RoundSkipped(round, n, snapshotWeight, submitted, bestWeight);
            return true;
        }
        rd.status = RoundStatus.Finalizing;
        _progress = Progress({
            roundPlus1: uint64(round + 1),
            pass: _PASS_MEDIANS,
            cursor: 0,
            slots: uint16(_slotCount()),
            scoredPeers: 0,
            canonical: uint8(best),
            scoreSum: 0,
            topFilled: 0,
            anyRated: false,
            snapshotWeight: uint128(snapshotWeight),
            submittedWeight: uint128(submitted),
            agreeingWeight: uint128(bestWeight),
            peerRewards: 0
        });
        return false;
    }

    /// @dev The (model hash, payload root) pair with the most snapshot stake (ties: the earliest
    /// submitted), its stake and the stake of all submissions. O(n²) over n <= 32 submissions.
    function _canonical(
        Submission[] storage subs
    ) private view returns (uint256 best, uint256 bestWeight, uint256 total) {
        uint256 n = subs.length;
        bytes32[] memory keys = new bytes32[](n);
        uint256[] memory weights = new uint256[](n);
        for (uint256 k = 0; k < n; ++k) {
            keys[k] = keccak256(abi.encode(subs[k].modelHash, subs[k].payloadRoot));
            weights[k] = subs[k].weight;
            total += weights[k];
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 w = 0;
            for (uint256 j = 0; j < n; ++j) if (keys[j] == keys[i]) w += weights[j];
            if (w > bestWeight) (best, bestWeight) = (i, w);
        }
    }

    // ---------------------------------------------------------------- pass 1: medians

    /**
     * @dev Pass 1 over slots [cursor, cursor + budget): each counted slot's weighted median, the
     * validators' deviations from it, its rating and strikes (evicting at evictAfterRounds), and every
     * held slot into the top-G keys and the held bitmap. Returns the slots processed.
     */
    function _medianPage(
        uint256 round,
        Submission[] storage subs,
        Progress memory pr,
        uint256 budget
    ) private returns (uint256 used) {
        uint256 n = subs.length;
        bool fresh = pr.cursor == 0;
        Page memory pg = Page({
            round: round,
            totalWeight: pr.submittedWeight,
            weights: new uint256[](n),
            words: new uint256[](n),
            pairs: new uint256[](n),
            deviation: _loadDeviations(n, fresh),
            top: _loadTop(fresh ? 0 : pr.topFilled)
        });
        for (uint256 k = 0; k < n; ++k) pg.weights[k] = subs[k].weight;
        uint256 start = pr.cursor;
        uint256 end = start + budget < pr.slots ? start + budget : pr.slots;
        uint256 medianWord = (start & 15) != 0 ? _medianWords[start >> 4] : 0;
        uint256 heldWord = (start & 255) != 0 ? _heldWords[start >> 8] : 0;
        uint256 filled = fresh ? 0 : pr.topFilled;
        for (uint256 i = start; i < end; ++i) {
            if (i == start || (i & 15) == 0) _loadScoreWords(subs, pg, i >> 4);
            (uint256 m, bool counted, Peer memory p) = _scoreSlot(pg, i);
            if (counted) {
                ++pr.scoredPeers;
                pr.scoreSum += uint32(m);
            }
            if (p.account == address(0)) {
                heldWord &= ~ScoreMath.bitIn(i); // the word may hold the previous round's bit
            } else {
                heldWord |= ScoreMath.bitIn(i);
                if (p.rating != 0) pr.anyRated = true;
                filled = ScoreMath.insertTop(pg.top, filled, (uint256(p.rating) << 16) | (0xffff - i));
            }
            medianWord = medianWord.withScore(i, m);
            if ((i & 15) == 15 || i + 1 == end) {
                _storeWord(_medianWords, i >> 4, medianWord);
                medianWord = 0;
            }
            if ((i & 255) == 255 || i + 1 == end) {
                _storeWord(_heldWords, i >> 8, heldWord);
                heldWord = 0;
            }
        }
        _storeDeviations(pg.deviation);
        _storeTop(pg.top, filled);
        pr.topFilled = uint8(filled);
        pr.cursor = uint16(end);
        return end - start;
    }

    /// @dev Every submission's score word `w` (16 peers) into the page (0 past a submission's scores).
    function _loadScoreWords(Submission[] storage subs, Page memory pg, uint256 w) private view {
        uint256 n = pg.words.length;
        for (uint256 k = 0; k < n; ++k) {
            uint256[] storage words = subs[k].scoreWords;
            pg.words[k] = w < words.length ? words[w] : 0;
        }
    }

    /// @dev Median, deviations, rating and strikes of slot `i`. Returns its median (0 if its scores do not
    /// count), whether they counted, and the slot as it is now (account zero if free or just evicted).
    function _scoreSlot(Page memory pg, uint256 i) private returns (uint256 m, bool counted, Peer memory p) {
        p = _slot(i);
        if (!_counts(p, pg.round)) return (0, false, p);
        m = ScoreMath.weightedMedian(pg.words, pg.weights, pg.pairs, i, pg.totalWeight);
        ScoreMath.addDeviations(pg.words, pg.deviation, i, m);
        (uint32 rating, uint16 strikes, bool proven) = (p.rating, p.strikes, p.proven);
        p.rating = uint32((uint256(rating) * (_BPS - _ratingAlphaBps) + m * _RATING_ONE * _ratingAlphaBps) / _BPS);
        p = _strike(p, i, pg.round, m);
        if (p.account != address(0) && (p.rating != rating || p.strikes != strikes || p.proven != proven)) {
            _setSlot(i, p);
        }
        return (m, true, p);
    }

    // ---------------------------------------------------------------- pass 2: peer rewards

    /// @dev Pass 2 over slots [cursor, cursor + budget): credits each counted slot pro rata to its median.
    function _rewardPage(uint256 round, Progress memory pr, uint256 budget) private returns (uint256 used) {
        uint256 pool = pr.scoreSum == 0 ? 0 : _rewardPerRound - _validatorPool();
        if (pool == 0) {
            pr.cursor = pr.slots; // nothing to pay: the pass is done without visiting the slots
            return 0;
        }
        uint256 start = pr.cursor;
        uint256 end = start + budget < pr.slots ? start + budget : pr.slots;
        uint256 word = 0;
        for (uint256 i = start; i < end; ++i) {
            if (i == start || (i & 15) == 0) word = _medianWords[i >> 4];
            uint256 m = word.scoreIn(i);
            if (m == 0) continue;
            Peer memory p = _slot(i);
            // A slot left or re-let since pass 1 is not paid (its new holder is newer than the round).
            if (!_counts(p, round)) continue;
            uint256 amount = (pool * m) / pr.scoreSum;
            if (amount == 0) continue;
            _pending[p.account] += amount;
            pr.peerRewards += uint128(amount);
            emit PeerRewarded(round, p.account, m, amount);
        }
        pr.cursor = uint16(end);
        return end - start;
    }

    // ---------------------------------------------------------------- close

    /// @dev Last step: the validator share, the next gather set, the canonical outcome and the event.
    function _close(uint256 round, RoundData storage rd, Progress memory pr) private {
        Submission storage canon = rd.submissions[pr.canonical];
        RoundTotals memory t = RoundTotals({
            submissions: uint32(rd.submissions.length),
            scoredPeers: pr.scoredPeers,
            snapshotWeight: pr.snapshotWeight,
            submittedWeight: pr.submittedWeight,
            agreeingWeight: pr.agreeingWeight,
            scoreSum: pr.scoreSum,
            peerRewards: pr.peerRewards,
            validatorRewards: _creditValidators(round, rd.submissions, canon, pr)
        });
        bytes memory gather = _nextGatherSet(pr);
        _modelHashes[round] = canon.modelHash;
        _payloadRoots[round] = canon.payloadRoot;
        rd.status = RoundStatus.Finalized;
        _lastFinalizedPlus1 = uint64(round + 1);
        _gatherSet = gather;
        _gatherSetRoundPlus1 = uint64(round + 1);
        delete _progress;
        emit RoundFinalized(
            round,
            canon.modelHash,
            canon.payloadRoot,
            _wordsToBytes(_medianWords, uint256(pr.slots) * 2),
            _wordsToBytes(canon.includedWords, (uint256(pr.slots) + 7) / 8),
            gather,
            t
        );
    }

    /**
     * @dev The validator share goes, pro rata to snapshot stake, to submissions that (a) match the
     * canonical (hash, root) and (b) are not outliers: their mean |score − median| over the scored peers
     * is at most outlierBps of the score range. Submissions are always inside the window.
     */
    function _creditValidators(
        uint256 round,
        Submission[] storage subs,
        Submission storage canon,
        Progress memory pr
    ) private returns (uint256 credited) {
        uint256 pool = _validatorPool();
        if (pool == 0) return 0;
        (bool[] memory paid, uint256 paidWeight) = _eligible(subs, canon, pr);
        for (uint256 k = 0; k < paid.length; ++k) {
            if (!paid[k]) continue;
            Submission storage s = subs[k];
            uint256 amount = (pool * s.weight) / paidWeight;
            if (amount == 0) continue;
            _pending[s.validator] += amount;
            credited += amount;
            emit ValidatorRewarded(round, s.validator, amount);
        }
    }

    /// @dev Which submissions earn the validator share (see _creditValidators) and their total stake.
    function _eligible(
        Submission[] storage subs,
        Submission storage canon,
        Progress memory pr
    ) private view returns (bool[] memory paid, uint256 paidWeight) {
        uint256 n = subs.length;
        uint256[] memory deviation = _loadDeviations(n, pr.slots == 0);
        uint256 band = (_outlierBps * uint256(pr.scoredPeers) * _MAX_SCORE) / _BPS;
        (bytes32 hash, bytes32 root) = (canon.modelHash, canon.payloadRoot);
        paid = new bool[](n);
        for (uint256 k = 0; k < n; ++k) {
            Submission storage s = subs[k];
            if (s.modelHash != hash || s.payloadRoot != root || deviation[k] > band) continue;
            paid[k] = true;
            paidWeight += s.weight;
        }
    }

    /**
     * @dev The next gather set over the round's slots: the top G held slots by (rating desc, index asc),
     * collected during the medians pass. While no held slot has a positive rating it is every held slot
     * (DESIGN step 5).
     */
    function _nextGatherSet(Progress memory pr) private view returns (bytes memory gather) {
        uint256 length = (uint256(pr.slots) + 7) / 8;
        if (!pr.anyRated) return _wordsToBytes(_heldWords, length);
        gather = new bytes(length);
        uint256[] memory top = _loadTop(pr.topFilled);
        for (uint256 j = 0; j < pr.topFilled; ++j) {
            uint256 i = 0xffff - (top[j] & 0xffff);
            gather[i >> 3] |= bytes1(uint8(1 << (i & 7)));
        }
    }

    // ---------------------------------------------------------------- reused storage

    /// @dev The validators' share of a round's reward.
    function _validatorPool() private view returns (uint256) {
        return (uint256(_rewardPerRound) * _validatorShareBps) / _BPS;
    }

    /// @dev Writes `word` at `words[w]`, growing the array by one when w is its length.
    function _storeWord(uint256[] storage words, uint256 w, uint256 word) private {
        if (w < words.length) words[w] = word;
        else words.push(word);
    }

    /// @dev The first `length` bytes of `words` laid out back to back (zeros past the stored words).
    function _wordsToBytes(uint256[] storage words, uint256 length) private view returns (bytes memory out) {
        uint256 nWords = (length + 31) / 32;
        out = new bytes(nWords * 32);
        uint256 stored = words.length;
        for (uint256 w = 0; w < nWords && w < stored; ++w) {
            uint256 word = words[w];
            assembly ("memory-safe") {
                mstore(add(out, add(32, mul(w, 32))), word)
            }
        }
        // Trims to `length` (<= the allocated nWords · 32 bytes): the rest is padding or later slots.
        assembly ("memory-safe") {
            mstore(out, length)
        }
    }

    /// @dev Deviation sums of `n` submissions (zeros for a fresh round).
    function _loadDeviations(uint256 n, bool fresh) private view returns (uint256[] memory dev) {
        dev = new uint256[](n);
        if (fresh) return dev;
        for (uint256 k = 0; k < n; ++k) dev[k] = (_deviationWords[k >> 3] >> (32 * (k & 7))) & type(uint32).max;
    }

    /// @dev Packs the deviation sums 8 per word into the reused storage words.
    function _storeDeviations(uint256[] memory dev) private {
        uint256 nWords = (dev.length + 7) / 8;
        for (uint256 w = 0; w < nWords; ++w) {
            uint256 word = 0;
            for (uint256 j = 0; j < 8 && w * 8 + j < dev.length; ++j) word |= dev[w * 8 + j] << (32 * j);
            _storeWord(_deviationWords, w, word);
        }
    }

    /// @dev The top-G keys kept so far (`filled` of them) in a G-long array.
    function _loadTop(uint256 filled) private view returns (uint256[] memory top) {
        top = new uint256[](_gatherSize);
        for (uint256 j = 0; j < filled; ++j) {
            top[j] = (_topWords[j / _KEYS_PER_WORD] >> (_KEY_BITS * (j % _KEYS_PER_WORD))) & ((1 << _KEY_BITS) - 1);
        }
    }

    /// @dev Packs the first `filled` top-G keys 5 per word into the reused storage words.
    function _storeTop(uint256[] memory top, uint256 filled) private {
        uint256 nWords = (filled + _KEYS_PER_WORD - 1) / _KEYS_PER_WORD;
        for (uint256 w = 0; w < nWords; ++w) {
            uint256 word = 0;
            for (uint256 j = w * _KEYS_PER_WORD; j < filled && j < (w + 1) * _KEYS_PER_WORD; ++j) {
                word |= top[j] << (_KEY_BITS * (j % _KEYS_PER_WORD));
            }
            _storeWord(_topWords, w, word);
        }
    }
}
