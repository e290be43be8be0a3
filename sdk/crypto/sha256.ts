/** SHA-256 through WebCrypto: the hash that record ids, CIDs and the chain's anchors share. */
import { bytesToHex } from "./bytes";
import { asBufferSource, subtle } from "./webcrypto";

/** The 32-byte SHA-256 digest of `bytes`. */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest("SHA-256", asBufferSource(bytes)));
}

/** The SHA-256 digest of `bytes` as 0x-prefixed lowercase hex (a bytes32). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return bytesToHex(await sha256(bytes));
}
