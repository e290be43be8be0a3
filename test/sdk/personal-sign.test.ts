/**
 * The ethers-free signature checks against ethers as the oracle: personal-message recovery
 * (sdk/core/personal-sign.ts) against verifyMessage, the same address for every form a wallet may give
 * (65 bytes with v 27/28 or 0/1, 64-byte EIP-2098) and a refusal wherever ethers refuses; EIP-712
 * digests (sdk/core/eip712.ts) against TypedDataEncoder and verifyTypedData.
 */
import { expect } from "chai";
import { Signature, TypedDataEncoder, Wallet, getBytes, hexlify, verifyMessage, verifyTypedData } from "ethers";

import { recoverTypedDataAddress, typedDataDigest } from "../../sdk/core/eip712";
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

describe("typedDataDigest (no ethers)", function () {
  it("hashes and recovers as ethers does, for the SDK's typed messages and every atomic type", async function () {
    const wallet = Wallet.createRandom();
    const domain = { name: "ConsentLedger Pairing", version: "1", chainId: 31337n, verifyingContract: wallet.address };
    const types = {
      Everything: [
        { name: "who", type: "address" },
        { name: "flag", type: "bool" },
        { name: "small", type: "uint8" },
        { name: "big", type: "uint256" },
        { name: "negative", type: "int64" },
        { name: "id", type: "bytes32" },
        { name: "short", type: "bytes4" },
        { name: "blob", type: "bytes" },
        { name: "text", type: "string" },
      ],
    };
    const value = {
      who: wallet.address.toLowerCase(),
      flag: true,
      small: 255,
      big: 2n ** 200n + 7n,
      negative: -5n,
      id: `0x${"ab".repeat(32)}`,
      short: "0xdeadbeef",
      blob: "0x0102030405",
      text: "Zustimmung ✓",
    };
    expect(hexlify(typedDataDigest(domain, types, "Everything", value))).to.equal(
      TypedDataEncoder.hash(domain, types, value),
    );
    for (const partial of [
      { name: "x" },
      { chainId: 1 },
      { name: "x", version: "2", verifyingContract: wallet.address },
    ]) {
      expect(hexlify(typedDataDigest(partial, types, "Everything", value))).to.equal(
        TypedDataEncoder.hash(partial, types, value),
      );
    }
    const signature = await wallet.signTypedData(domain, types, value);
    expect(recoverTypedDataAddress(domain, types, "Everything", value, signature)).to.equal(
      verifyTypedData(domain, types, value, signature),
    );
    expect(() => typedDataDigest(domain, types, "Everything", { ...value, small: 256 })).to.throw(/uint8/);
    expect(() => typedDataDigest(domain, { A: [{ name: "xs", type: "uint8[]" }] }, "A", { xs: [1] })).to.throw(
      /not supported/,
    );
  });

  it("refuses what ethers refuses: widths Solidity lacks, missing or mistyped values, unknown domain fields", function () {
    const domain = { name: "x", chainId: 1n };
    const one = (type: string) => ({ A: [{ name: "f", type }] });
    const cases: [string, Record<string, { name: string; type: string }[]>, Record<string, unknown>, object?][] = [
      ["uint7", one("uint7"), { f: 5 }],
      ["uint264", one("uint264"), { f: 2n ** 260n }],
      ["int0", one("int0"), { f: 0 }],
      ["bytes0", one("bytes0"), { f: "0x" }],
      ["bytes33", one("bytes33"), { f: `0x${"11".repeat(33)}` }],
      ["a missing string", one("string"), {}],
      ["a missing uint", one("uint256"), {}],
      ["a missing address", one("address"), {}],
      ["an unknown domain field", one("uint8"), { f: 1 }, { ...domain, foo: 1 }],
    ];
    for (const [label, types, value, dom] of cases) {
      const theirs = outcome(() => TypedDataEncoder.hash(dom ?? domain, types, value));
      const ours = outcome(() => hexlify(typedDataDigest(dom ?? domain, types, "A", value)));
      expect(theirs, `ethers on ${label}`).to.equal("refused");
      expect(ours, label).to.equal("refused");
    }
  });
});
