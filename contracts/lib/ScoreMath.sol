// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title ScoreMath
 * @notice Pure helpers for the round consensus: the packed encodings the contract stores (16 big-endian
 * uint16 scores per word, 256 bitmap bits per word in the byte order of the calldata bitmap) and the
 * stake-weighted median. The JavaScript references live in node/chain/consensus.ts.
 */
library ScoreMath {
    /// @dev Score of peer `index` inside the packed word that holds it (index % 16 is its position).
    function scoreIn(uint256 word, uint256 index) internal pure returns (uint256) {
        return (word >> (240 - 16 * (index & 15))) & 0xffff;
    }

    /// @dev `word` with peer `index`'s uint16 slot set to `value` (index % 16 is its position).
    function withScore(uint256 word, uint256 index, uint256 value) internal pure returns (uint256) {
        uint256 shift = 240 - 16 * (index & 15);
        return (word & ~(uint256(0xffff) << shift)) | (value << shift);
    }

    /**
     * @dev Bit mask of peer `index` inside a 256-bit bitmap word: bit i of byte i/8, least significant
     * bit first, with the word's bytes in calldata order (byte 0 is the most significant).
     */
    function bitIn(uint256 index) internal pure returns (uint256) {
        return uint256(1) << (8 * (31 - ((index >> 3) & 31)) + (index & 7));
    }

    /**
     * @dev Stake-weighted median of peer `index`'s scores: `words[k]` is submission k's score word holding
     * the peer (index % 16 is its position), `weights[k]` its stake (> 0), `totalWeight` their sum;
     * `pairs` (as long as `words`) is scratch space. Sort by value; the first value whose cumulative
     * weight exceeds half the total is the median; when the cumulative weight equals exactly half, the
     * median is the midpoint (rounded down) of that value and the next one. So a set holding at most half
     * the weight never decides the median alone: below half it stays inside the other values' range, at
     * exactly half it moves at most halfway towards its own values (docs/contract.md "Median").
     */
    function weightedMedian(
        uint256[] memory words,
        uint256[] memory weights,
        uint256[] memory pairs,
        uint256 index,
        uint256 totalWeight
    ) internal pure returns (uint256 median) {
        uint256 n = words.length;
        if (n == 0 || totalWeight == 0) return 0;
        uint256 shift = 240 - 16 * (index & 15);
        // pairs[k] = score << 128 | weight, then sorted ascending: by value, ties by weight. Reads and
        // writes stay inside the three n-long arrays: memory-safe.
        assembly ("memory-safe") {
            let w := add(words, 0x20)
            let g := add(weights, 0x20)
            let p := add(pairs, 0x20)
            for {
                let k := 0
            } lt(k, n) {
                k := add(k, 1)
            } {
                let o := shl(5, k)
                mstore(add(p, o), or(shl(128, and(shr(shift, mload(add(w, o))), 0xffff)), mload(add(g, o))))
            }
        }
        _insertionSort(pairs);
        assembly ("memory-safe") {
            let p := add(pairs, 0x20)
            let mask := sub(shl(128, 1), 1)
            let cumulative := 0
            median := shr(128, mload(add(p, shl(5, sub(n, 1)))))
            for {
                let k := 0
            } lt(k, n) {
                k := add(k, 1)
            } {
                let pair := mload(add(p, shl(5, k)))
                cumulative := add(cumulative, and(pair, mask))
                let twice := shl(1, cumulative)
                if gt(twice, totalWeight) {
                    median := shr(128, pair)
                    break
                }
                if eq(twice, totalWeight) {
                    median := shr(128, pair)
                    if lt(add(k, 1), n) {
                        median := shr(1, add(median, shr(128, mload(add(p, shl(5, add(k, 1)))))))
                    }
                    break
                }
            }
        }
    }

    /**
     * @dev Adds |score − median| of peer `index` to each submission's running `deviation` (same layout
     * as weightedMedian's `words`); the sums stay below 2^32 (1024 peers × 65535).
     */
    function addDeviations(
        uint256[] memory words,
        uint256[] memory deviation,
        uint256 index,
        uint256 median
    ) internal pure {
        uint256 n = words.length;
        uint256 shift = 240 - 16 * (index & 15);
        // Both arrays are n long: memory-safe.
        assembly ("memory-safe") {
            let w := add(words, 0x20)
            let d := add(deviation, 0x20)
            for {
                let k := 0
            } lt(k, n) {
                k := add(k, 1)
            } {
                let o := shl(5, k)
                let score := and(shr(shift, mload(add(w, o))), 0xffff)
                let diff := sub(score, median)
                if lt(score, median) {
                    diff := sub(median, score)
                }
                mstore(add(d, o), add(mload(add(d, o)), diff))
            }
        }
    }

    /**
     * @dev Inserts `key` into `top[0..filled)`, kept in descending order and at most `top.length` long
     * (the gather set's top-G selection); returns the new count. O(G) per key, in assembly for the same
     * reason as _insertionSort: the closing bound is 1024 keys into a top-64.
     */
    function insertTop(uint256[] memory top, uint256 filled, uint256 key) internal pure returns (uint256) {
        uint256 g = top.length;
        if (filled == g) {
            if (g == 0 || key <= top[g - 1]) return filled;
        } else {
            ++filled;
        }
        // Every index stays inside [0, filled) with filled <= top.length: memory-safe.
        assembly ("memory-safe") {
            let base := add(top, 0x20)
            let j := sub(filled, 1)
            for {

            } gt(j, 0) {
                j := sub(j, 1)
            } {
                let prev := mload(add(base, shl(5, sub(j, 1))))
                if iszero(lt(prev, key)) {
                    break
                }
                mstore(add(base, shl(5, j)), prev)
            }
            mstore(add(base, shl(5, j)), key)
        }
        return filled;
    }

    /**
     * @dev Sorts `a` ascending in place. Insertion sort in assembly: the arrays are the submissions of one
     * round (<= 32). Measured against OpenZeppelin's Arrays.sort (a quicksort with a first-element pivot
     * and a function-pointer comparator): on 32 pairs already in order it cost ~150k gas per peer, which
     * made a 1024 × 32 finalize page impossible; this costs at most ~20k (32 elements in reverse order).
     */
    function _insertionSort(uint256[] memory a) private pure {
        // Pointers stay inside the array's n words: memory-safe.
        assembly ("memory-safe") {
            let first := add(a, 0x20)
            let last := add(first, shl(5, mload(a)))
            for {
                let i := add(first, 0x20)
            } lt(i, last) {
                i := add(i, 0x20)
            } {
                let key := mload(i)
                let j := i
                for {

                } gt(j, first) {

                } {
                    let prev := mload(sub(j, 0x20))
                    if iszero(gt(prev, key)) {
                        break
                    }
                    mstore(j, prev)
                    j := sub(j, 0x20)
                }
                mstore(j, key)
            }
        }
    }
}
