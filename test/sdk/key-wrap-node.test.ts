import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";

import { aesGcmDecrypt, aesGcmEncrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, randomBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { unwrapDataKey, wrapDataKey, WRAPPED_KEY_BYTES } from "../../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair } from "../../sdk/crypto/keys";
import { FormatError } from "../../sdk/errors";
import { nodeAesGcmEncrypt, nodeX25519, wrapDataKeyNative } from "../../sdk/node";
import { expectRejects } from "../helpers/expect-error";

const RECORD_ID = `0x${"5a".repeat(32)}`;

/** Opens a v1 wrapped key by the documented derivation, with the X25519 of `curve`. */
async function openBySpec(
  wrapped: Uint8Array,
  recipient: { secretKey: Uint8Array; publicKey: Uint8Array },
  curve: { getSharedSecret(secret: Uint8Array, pub: Uint8Array): Uint8Array },
): Promise<Uint8Array> {
  const ephemeralPublic = wrapped.subarray(4, 36);
  const recordId = hexToBytes(RECORD_ID);
  const kek = hkdf(
    sha256,
    curve.getSharedSecret(recipient.secretKey, ephemeralPublic),
    concatBytes(ephemeralPublic, recipient.publicKey),
    concatBytes(utf8Encode("consent-ledger/key-wrap/v1"), recordId),
    32,
  );
  const aad = concatBytes(wrapped.subarray(0, 4), ephemeralPublic, recipient.publicKey, recordId);
  return aesGcmDecrypt(kek, wrapped.subarray(36, 48), wrapped.subarray(48, 96), aad);
}

describe("sdk/crypto/node/key-wrap (consent-ledger/node): node:crypto's X25519 and AES-GCM for key wraps", function () {
  it("agrees on the same shared secret as @noble/curves: the recipient's X25519 with the ephemeral key gives it", function () {
    for (let i = 0; i < 50; i++) {
      const recipient = generateEncryptionKeyPair();
      const { ephemeralPublic, shared } = nodeX25519.ephemeralAgreement(recipient.publicKey);
      expect(ephemeralPublic).to.have.length(32);
      expect(bytesToHex(shared)).to.equal(bytesToHex(x25519.getSharedSecret(recipient.secretKey, ephemeralPublic)));
    }
  });

  it("encrypts AES-256-GCM exactly as the SDK's WebCrypto AES-GCM", async function () {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const plaintext = randomBytes(32);
    const aad = randomBytes(100);
    expect(bytesToHex(await nodeAesGcmEncrypt(key, iv, plaintext, aad))).to.equal(
      bytesToHex(await aesGcmEncrypt(key, iv, plaintext, aad)),
    );
  });

  it("uses a fresh ephemeral key for every agreement", function () {
    const recipient = generateEncryptionKeyPair();
    const seen = new Set(
      Array.from({ length: 20 }, () => bytesToHex(nodeX25519.ephemeralAgreement(recipient.publicKey).ephemeralPublic)),
    );
    expect(seen.size).to.equal(20);
  });

  it("makes wraps in the SDK's format that the SDK's (@noble) unwrap and the documented derivation open", async function () {
    const recipient = generateEncryptionKeyPair();
    const dataKey = randomBytes(32);
    const native = await wrapDataKeyNative(dataKey, recipient.publicKey, RECORD_ID);
    expect(native).to.have.length(WRAPPED_KEY_BYTES);
    expect(bytesToHex(native.subarray(0, 4))).to.equal("0x434c4b01");
    expect(bytesEqual(await unwrapDataKey(native, recipient, RECORD_ID), dataKey)).to.equal(true);
    expect(bytesEqual(await openBySpec(native, recipient, x25519), dataKey)).to.equal(true);

    // The SDK's own wrap has the same layout, and the same unwrap opens both.
    const noble = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    expect(bytesToHex(noble.subarray(0, 4))).to.equal(bytesToHex(native.subarray(0, 4)));
    expect(noble).to.have.length(native.length);
    expect(bytesEqual(await unwrapDataKey(noble, recipient, RECORD_ID), dataKey)).to.equal(true);
    expect(bytesEqual(await openBySpec(noble, recipient, x25519), dataKey)).to.equal(true);
  });

  it("refuses low-order recipient keys with FormatError, as the SDK's wrap does", async function () {
    for (const u of [0n, 1n]) {
      const point = new Uint8Array(32);
      point[0] = Number(u);
      const error = await expectRejects(wrapDataKeyNative(randomBytes(32), point, RECORD_ID), FormatError);
      expect(error.message).to.contain("low-order");
    }
  });
});
