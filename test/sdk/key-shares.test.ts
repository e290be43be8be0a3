import { expect } from "chai";

import { randomBytes } from "../../sdk/crypto/bytes";
import { combineKeyShares, splitDataKey } from "../../sdk/crypto/key-shares";
import {
  unwrapDataKey,
  unwrapKeyShare,
  wrapDataKey,
  wrapKeyShare,
  WRAPPED_SHARE_BYTES,
} from "../../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair } from "../../sdk/crypto/keys";
import { FormatError, InvalidArgumentError, WrongRecipientKeyError } from "../../sdk/errors";

const RECORD = `0x${"ab".repeat(32)}`;
const OTHER_RECORD = `0x${"cd".repeat(32)}`;

describe("key shares (Shamir, by shamir-secret-sharing)", function () {
  it("any k of n shares rebuild the key", async function () {
    const key = randomBytes(32);
    const shares = await splitDataKey(key, 5, 3);
    expect(shares).to.have.length(5);
    for (const share of shares) expect(share).to.have.length(33);
    for (const chosen of [
      [0, 1, 2],
      [1, 3, 4],
      [0, 2, 4],
      [0, 1, 2, 3, 4],
    ]) {
      expect(Buffer.from(await combineKeyShares(chosen.map((i) => shares[i])))).to.deep.equal(Buffer.from(key));
    }
  });

  it("k − 1 shares give some other 32 bytes, not the key", async function () {
    const key = randomBytes(32);
    const shares = await splitDataKey(key, 3, 3);
    expect(Buffer.from(await combineKeyShares(shares.slice(0, 2)))).to.not.deep.equal(Buffer.from(key));
  });

  it("refuses thresholds and counts outside 2 ≤ k ≤ n ≤ 255, and keys that are not 32 bytes", async function () {
    for (const [n, k] of [
      [3, 1],
      [3, 4],
      [1, 1],
      [256, 2],
    ]) {
      await splitDataKey(randomBytes(32), n, k).then(
        () => expect.fail(`split ${k} of ${n}`),
        (error: unknown) => expect(error).to.be.instanceOf(InvalidArgumentError),
      );
    }
    await splitDataKey(randomBytes(31), 3, 2).then(
      () => expect.fail("split a 31-byte key"),
      (error: unknown) => expect(error).to.be.instanceOf(InvalidArgumentError),
    );
  });

  it("refuses one share, and shares with a repeated x coordinate", async function () {
    const shares = await splitDataKey(randomBytes(32), 3, 2);
    for (const bad of [[shares[0]], [shares[0], Uint8Array.from(shares[0])]]) {
      await combineKeyShares(bad).then(
        () => expect.fail("combined"),
        (error: unknown) => expect(error).to.be.instanceOf(InvalidArgumentError),
      );
    }
  });
});

describe("wrapped key shares", function () {
  it("open with the recipient's key for the record they were wrapped for, only", async function () {
    const recipient = generateEncryptionKeyPair();
    const [share] = await splitDataKey(randomBytes(32), 3, 2);
    const wrapped = await wrapKeyShare(share, recipient.publicKey, RECORD);
    expect(wrapped).to.have.length(WRAPPED_SHARE_BYTES);
    expect(Buffer.from(await unwrapKeyShare(wrapped, recipient, RECORD))).to.deep.equal(Buffer.from(share));
    await unwrapKeyShare(wrapped, generateEncryptionKeyPair(), RECORD).then(
      () => expect.fail("opened for another reader"),
      (error: unknown) => expect(error).to.be.instanceOf(WrongRecipientKeyError),
    );
    await unwrapKeyShare(wrapped, recipient, OTHER_RECORD).then(
      () => expect.fail("opened for another record"),
      (error: unknown) => expect(error).to.be.instanceOf(WrongRecipientKeyError),
    );
  });

  it("are never taken for a wrapped data key, nor a wrapped data key for a share", async function () {
    const recipient = generateEncryptionKeyPair();
    const [share] = await splitDataKey(randomBytes(32), 3, 2);
    await unwrapDataKey(await wrapKeyShare(share, recipient.publicKey, RECORD), recipient, RECORD).then(
      () => expect.fail("a share opened as a data key"),
      (error: unknown) => expect(error).to.be.instanceOf(FormatError),
    );
    await unwrapKeyShare(await wrapDataKey(randomBytes(32), recipient.publicKey, RECORD), recipient, RECORD).then(
      () => expect.fail("a data key opened as a share"),
      (error: unknown) => expect(error).to.be.instanceOf(FormatError),
    );
  });
});
