// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title ScoreMath
 * @notice Pure helpers for the round consensus: the compact score encoding (one big-endian uint16 per
 * peer index) and bitmaps (bit i of byte i/8, least significant bit first), and the stake-weighted
 * median.
 */
library ScoreMath {
    /// @dev Score of peer `index` in a big-endian uint16 array; 0 past the end (a validator that
    /// submitted before the peer registered, or that left it out, scores it 0).
    function scoreAt(bytes memory scores, uint256 index) internal pure returns (uint256 value) {
        uint256 offset = index * 2;
        if (offset + 1 >= scores.length) return 0;
        // Reading a 32-byte word at offset and keeping the top two bytes avoids two bounds-checked
        // byte reads; the word may run past the array into other memory, which the shift discards.
        assembly {
            value := shr(240, mload(add(add(scores, 32), offset)))
        }
    }

    /// @dev Bit `index` of a bitmap (false past the end).
    function bitAt(bytes memory bitmap, uint256 index) internal pure returns (bool) {
        uint256 byteIndex = index >> 3;
        if (byteIndex >= bitmap.length) return false;
        return (uint8(bitmap[byteIndex]) >> (index & 7)) & 1 == 1;
    }

    /**
     * @dev Lower stake-weighted median of `n` (value, weight) pairs packed as `value << 128 | weight`
     * in `pairs[0..n)`: the smallest value v such that the weight of values <= v is at least half the
     * total. Sorts `pairs[0..n)` in place (insertion sort: n is bounded by maxValidators, and with the
     * handful of validators a run has it beats anything fancier).
     */
    function weightedMedian(uint256[] memory pairs, uint256 n, uint256 totalWeight) internal pure returns (uint256) {
        if (n == 0) return 0;
        for (uint256 i = 1; i < n; ++i) {
            uint256 key = pairs[i];
            uint256 j = i;
            while (j > 0 && pairs[j - 1] > key) {
                pairs[j] = pairs[j - 1];
                --j;
            }
            pairs[j] = key;
        }
        uint256 cumulative = 0;
        for (uint256 i = 0; i < n; ++i) {
            cumulative += pairs[i] & type(uint128).max;
            if (cumulative * 2 >= totalWeight) return pairs[i] >> 128;
        }
        return pairs[n - 1] >> 128;
    }
}
