/**
 * X25519 by node:crypto (OpenSSL), for Node only: several times faster than the pure-JS curve for a
 * wrap. The same function as @noble/curves' x25519 (RFC 7748), so wraps made with it are byte-for-byte
 * the format of sdk/crypto/key-wrap.ts and open with the SDK's unwrap.
 *
 * The ephemeral key pair is generated inside OpenSSL (its secret never becomes bytes here); the
 * recipient's public key crosses in as a JWK (RFC 8037), the cheapest import OpenSSL 3 offers.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";

import { wrapDataKey, type X25519Backend } from "./key-wrap";

/** node:crypto's X25519, as key-wrap's backend. OpenSSL refuses (throws on) an all-zero shared secret. */
export const nodeX25519: X25519Backend = {
  ephemeralAgreement(publicKey: Uint8Array) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new Error("an X25519 public key is 32 bytes");
    const recipient = createPublicKey({
      key: { kty: "OKP", crv: "X25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    });
    const ephemeral = generateKeyPairSync("x25519");
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
    const ephemeralPublic = Buffer.from(ephemeral.publicKey.export({ format: "jwk" }).x as string, "base64url");
    return {
      ephemeralPublic: new Uint8Array(ephemeralPublic.buffer, ephemeralPublic.byteOffset, ephemeralPublic.byteLength),
      shared: new Uint8Array(shared.buffer, shared.byteOffset, shared.byteLength),
    };
  },
};

/** wrapDataKey with node:crypto's X25519: the same 96-byte format, for servers that wrap many keys. */
export function wrapDataKeyNative(
  dataKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  recordId: string,
): Promise<Uint8Array> {
  return wrapDataKey(dataKey, recipientPublicKey, recordId, { x25519: nodeX25519 });
}
