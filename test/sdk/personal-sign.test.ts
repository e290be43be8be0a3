/**
 * The ethers-free personal-message recovery (sdk/core/personal-sign.ts) against ethers' verifyMessage as
 * the oracle: the same address for every form a wallet may give (65 bytes with v 27/28 or 0/1, 64-byte
 * EIP-2098), and a refusal wherever ethers refuses.
 */
import { expect } from "chai";
import { Signature, Wallet, getBytes, hexlify, verifyMessage } from "ethers";

import { personalMessageHash, recoverMessageAddress } from "../../sdk/core/personal-sign";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function outcome(run: () => string): string {
  try {
    return run();
  } catch {
    return "refused";
  }
}

describe("recoverMessageAddress (no ethers)", function () {
  it("recovers what ethers recovers, for every signature form, and refuses what it refuses", async function () {
    for (let i = 0; i < 12; i++) {
      const wallet = Wallet.createRandom();
      const message = i % 3 === 0 ? `Consent Ledger ${i}\n\nünïcode ✓` : i % 3 === 1 ? "" : getBytes(wallet.address);
      const signature = await wallet.signMessage(message);
      const sig = Signature.from(signature);
      const bytes = getBytes(signature);
      const v01 = Uint8Array.from(bytes);
      v01[64] -= 27;
      const highS = hexlify(
        Uint8Array.from([
          ...getBytes(sig.r),
          ...getBytes(`0x${(N - BigInt(sig.s)).toString(16).padStart(64, "0")}`),
          27 + (1 - sig.yParity),
        ]),
      );
      const badV = Uint8Array.from(bytes);
      badV[64] = 29;
      const flipped = Uint8Array.from(bytes);
      flipped[5] ^= 1;
      for (const form of [
        signature,
        hexlify(v01),
        sig.compactSerialized,
        highS,
        hexlify(badV),
        hexlify(flipped),
        "0x1234",
      ]) {
        expect(
          outcome(() => recoverMessageAddress(message, form)),
          form,
        ).to.equal(outcome(() => verifyMessage(message, form)));
      }
      expect(recoverMessageAddress(message, signature)).to.equal(wallet.address);
      expect(hexlify(personalMessageHash(message))).to.equal((await import("ethers")).hashMessage(message));
    }
  });
});
