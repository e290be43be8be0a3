import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";

import { aesGcmDecrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, randomBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { unwrapDataKey, wrapDataKey, WRAPPED_KEY_BYTES } from "../../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair } from "../../sdk/crypto/keys";
import { DecryptionError, FormatError, InvalidArgumentError, WrongRecipientKeyError } from "../../sdk/errors";
import { expectRejects } from "../helpers/expect-error";

const RECORD_ID = `0x${"5a".repeat(32)}`;
const OTHER_RECORD_ID = `0x${"a5".repeat(32)}`;

/** u-coordinates of the points of small order on Curve25519 (and their non-canonical twins p and p + 1). */
const P = 2n ** 255n - 19n;
const LOW_ORDER_U = [
  0n,
  1n,
  P - 1n,
  P,
  P + 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
];
function littleEndian32(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] ^= mask;
  return copy;
}

describe("sdk/crypto/key-wrap", function () {
  const recipient = generateEncryptionKeyPair();
  const stranger = generateEncryptionKeyPair();
  const dataKey = randomBytes(32);

  it("wraps a data key into 96 bytes only its recipient opens, for its record", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    expect(wrapped).to.have.length(WRAPPED_KEY_BYTES);
    expect(bytesToHex(wrapped.subarray(0, 4))).to.equal("0x434c4b01"); // "CLK" 0x01
    expect(bytesEqual(await unwrapDataKey(wrapped, recipient, RECORD_ID), dataKey)).to.equal(true);
    // A fresh ephemeral key and IV per wrap.
    const again = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    expect(bytesEqual(again.subarray(4, 48), wrapped.subarray(4, 48))).to.equal(false);
    expect(
      bytesEqual(await unwrapDataKey(again, recipient, RECORD_ID.toUpperCase().replace("0X", "0x")), dataKey),
    ).to.equal(true);
  });

  it("follows the documented derivation exactly (independent re-implementation of the spec)", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    const magic = wrapped.subarray(0, 4);
    const ephemeralPublic = wrapped.subarray(4, 36);
    const iv = wrapped.subarray(36, 48);
    const ciphertext = wrapped.subarray(48, 96);
    const recordId = hexToBytes(RECORD_ID);
    const shared = x25519.getSharedSecret(recipient.secretKey, ephemeralPublic);
    const kek = hkdf(
      sha256,
      shared,
      concatBytes(ephemeralPublic, recipient.publicKey),
      concatBytes(utf8Encode("consent-ledger/key-wrap/v1"), recordId),
      32,
    );
    const aad = concatBytes(magic, ephemeralPublic, recipient.publicKey, recordId);
    expect(bytesEqual(await aesGcmDecrypt(kek, iv, ciphertext, aad), dataKey)).to.equal(true);
  });

  it("another recipient's key: WrongRecipientKeyError telling what to check", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    const error = await expectRejects(unwrapDataKey(wrapped, stranger, RECORD_ID), WrongRecipientKeyError);
    expect(error).to.be.instanceOf(DecryptionError);
    expect(error.message).to.contain(RECORD_ID);
    expect(error.hint).to.contain("KeyDirectory");
    expect(error.details).to.contain(bytesToHex(stranger.publicKey));
  });

  it("another record id: WrongRecipientKeyError (a wrapped key does not move between records)", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    await expectRejects(unwrapDataKey(wrapped, recipient, OTHER_RECORD_ID), WrongRecipientKeyError);
  });

  it("bit flips anywhere: FormatError or WrongRecipientKeyError, never a key", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    // Every bit of the magic and version; one bit of every other byte, rotating (X25519 in JS costs ms).
    const bits: number[] = [];
    for (let bit = 0; bit < wrapped.length * 8; bit++) if (bit < 32 || (bit & 7) === (bit >> 3) % 8) bits.push(bit);
    bits.push(35 * 8 + 7); // the top bit of the ephemeral key, which X25519 itself ignores: the AAD catches it
    let formatErrors = 0;
    for (const bit of bits) {
      const tampered = flip(wrapped, bit >> 3, 1 << (bit & 7));
      let error: unknown;
      try {
        await unwrapDataKey(tampered, recipient, RECORD_ID);
      } catch (caught) {
        error = caught;
      }
      const typed = error instanceof FormatError || error instanceof WrongRecipientKeyError;
      expect(typed, `bit ${bit}: ${String(error)}`).to.equal(true);
      if (error instanceof FormatError) formatErrors++;
    }
    expect(formatErrors).to.equal(32); // the magic and version bytes
  });

  it("every truncation and any extra byte: FormatError", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    for (let length = 0; length < WRAPPED_KEY_BYTES; length++) {
      await expectRejects(
        unwrapDataKey(wrapped.subarray(0, length), recipient, RECORD_ID),
        FormatError,
        `length ${length}`,
      );
    }
    for (const extra of [1, 100]) {
      const longer = concatBytes(wrapped, new Uint8Array(extra));
      const error = await expectRejects(unwrapDataKey(longer, recipient, RECORD_ID), FormatError);
      expect(error.message).to.contain(`expected exactly ${WRAPPED_KEY_BYTES}`);
    }
    const v2 = flip(wrapped, 3, 0x03);
    expect((await expectRejects(unwrapDataKey(v2, recipient, RECORD_ID), FormatError)).message).to.contain(
      "unsupported format version 2",
    );
  });

  it("low-order points, as ephemeral or recipient key: FormatError", async function () {
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    for (const u of LOW_ORDER_U) {
      const point = littleEndian32(u);
      const forged = Uint8Array.from(wrapped);
      forged.set(point, 4);
      const error = await expectRejects(unwrapDataKey(forged, recipient, RECORD_ID), FormatError, `u = ${u}`);
      expect(error.message).to.contain("low-order");
      await expectRejects(wrapDataKey(dataKey, point, RECORD_ID), FormatError, `u = ${u}`);
    }
  });

  it("bad arguments: InvalidArgumentError", async function () {
    await expectRejects(wrapDataKey(new Uint8Array(16), recipient.publicKey, RECORD_ID), InvalidArgumentError);
    await expectRejects(wrapDataKey(dataKey, new Uint8Array(33), RECORD_ID), InvalidArgumentError);
    await expectRejects(wrapDataKey(dataKey, recipient.publicKey, "0x1234"), InvalidArgumentError);
    await expectRejects(wrapDataKey(dataKey, recipient.publicKey, "5a".repeat(32)), InvalidArgumentError);
    const wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    await expectRejects(
      unwrapDataKey(wrapped, { publicKey: recipient.publicKey, secretKey: stranger.secretKey }, RECORD_ID),
      InvalidArgumentError,
    );
    await expectRejects(
      unwrapDataKey(wrapped, { publicKey: recipient.publicKey, secretKey: new Uint8Array(31) }, RECORD_ID),
      InvalidArgumentError,
    );
    await expectRejects(unwrapDataKey(wrapped, recipient, "0x"), InvalidArgumentError);
    await expectRejects(unwrapDataKey("CLK" as unknown as Uint8Array, recipient, RECORD_ID), InvalidArgumentError);
  });
});
