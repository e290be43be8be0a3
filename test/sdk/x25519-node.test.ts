import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { expect } from "chai";

import { aesGcmDecrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, randomBytes, utf8Encode } from "../../sdk/crypto/bytes";
import { unwrapDataKey, wrapDataKey, WRAPPED_KEY_BYTES } from "../../sdk/crypto/key-wrap";
import { generateEncryptionKeyPair } from "../../sdk/crypto/keys";
import { FormatError } from "../../sdk/errors";
import { nodeX25519, wrapDataKeyNative } from "../../sdk/node";
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

describe("sdk/crypto/x25519-node (consent-ledger/node): node:crypto's X25519 for key wraps", function () {
  it("computes RFC 7748's test vector (section 6.1)", function () {
    const alice = hexToBytes("0x77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const bob = hexToBytes("0x5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    expect(bytesToHex(nodeX25519.getPublicKey(alice))).to.equal(
      "0x8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    );
    expect(bytesToHex(nodeX25519.getSharedSecret(alice, nodeX25519.getPublicKey(bob)))).to.equal(
      "0x4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
    );
  });

  it("gives the same public keys and shared secrets as @noble/curves for random keys", function () {
    for (let i = 0; i < 50; i++) {
      const a = randomBytes(32);
      const b = randomBytes(32);
      expect(bytesToHex(nodeX25519.getPublicKey(a))).to.equal(bytesToHex(x25519.getPublicKey(a)));
      expect(bytesToHex(nodeX25519.getSharedSecret(a, x25519.getPublicKey(b)))).to.equal(
        bytesToHex(x25519.getSharedSecret(a, x25519.getPublicKey(b))),
      );
    }
  });

  it("makes wraps that the SDK's (@noble) unwrap opens, and opens the SDK's wraps by the same derivation", async function () {
    const recipient = generateEncryptionKeyPair();
    const dataKey = randomBytes(32);
    const native = await wrapDataKeyNative(dataKey, recipient.publicKey, RECORD_ID);
    expect(native).to.have.length(WRAPPED_KEY_BYTES);
    expect(bytesToHex(native.subarray(0, 4))).to.equal("0x434c4b01");
    expect(bytesEqual(await unwrapDataKey(native, recipient, RECORD_ID), dataKey)).to.equal(true);
    expect(bytesEqual(await openBySpec(native, recipient, x25519), dataKey)).to.equal(true);

    const noble = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
    expect(bytesEqual(await openBySpec(noble, recipient, nodeX25519), dataKey)).to.equal(true);
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
