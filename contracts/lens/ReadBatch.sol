// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

/**
 * @title ReadBatch
 * @notice Many view calls in one `eth_call`, without deploying anything: a reader sends this contract's
 * creation code with its arguments as an `eth_call` with no `to`. The constructor makes each static
 * call and returns the results in place of runtime code, so the node answers them all at one block.
 * It is never deployed (a deployment would hold no code), which is why it needs no address on any chain,
 * unlike Multicall3.
 * @dev Returns abi.encode(uint256 blockNumber, uint256 timestamp, uint256 balance, bool[] success,
 * bytes[] returnData): the block the reads saw, its time, `account`'s balance in wei, and each call's
 * outcome. A failing call does not fail the batch; its revert data is in `returnData`.
 */
contract ReadBatch {
    /// @notice Thrown when `targets` and `calls` differ in length.
    error ReadBatchLengthMismatch(uint256 targets, uint256 calls);

    /**
     * @notice Makes every static call and returns the results as the creation's output.
     * @param targets The contract each call goes to.
     * @param calls The calldata of each call.
     * @param account The account whose balance to return with the results.
     */
    constructor(address[] memory targets, bytes[] memory calls, address account) {
        if (targets.length != calls.length) revert ReadBatchLengthMismatch(targets.length, calls.length);
        bool[] memory success = new bool[](calls.length);
        bytes[] memory returnData = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            // A static call cannot change state: the batch only reads, whatever the targets do.
            // solhint-disable-next-line avoid-low-level-calls
            (success[i], returnData[i]) = targets[i].staticcall(calls[i]);
        }
        bytes memory out = abi.encode(block.number, block.timestamp, account.balance, success, returnData);
        // Creation code's output is what the eth_call returns: hand back the encoded results.
        assembly ("memory-safe") {
            return(add(out, 32), mload(out))
        }
    }
}
