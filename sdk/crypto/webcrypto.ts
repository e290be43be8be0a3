/**
 * Access to the platform's WebCrypto (`globalThis.crypto`), the only AES and SHA-256 this SDK uses: Node
 * 20+ and browsers implement it natively (OpenSSL / BoringSSL underneath), so there is no pure-JS AES.
 */
import { ConsentLedgerError } from "../errors";

/** This JavaScript runtime offers no WebCrypto (or only part of it). */
export class WebCryptoUnavailableError extends ConsentLedgerError {
  override name = "WebCryptoUnavailableError";
  constructor(missing: string) {
    super(`This JavaScript runtime has no ${missing}`, {
      hint:
        "Use Node 20 or later, or a current browser. Browsers expose crypto.subtle only in secure contexts: " +
        "serve the dApp over HTTPS (http://localhost also counts).",
    });
  }
}

/** `globalThis.crypto`, or WebCryptoUnavailableError. */
export function webCrypto(): Crypto {
  const api = (globalThis as { crypto?: Crypto }).crypto;
  if (!api || typeof api.getRandomValues !== "function") throw new WebCryptoUnavailableError("crypto.getRandomValues");
  return api;
}

/** `globalThis.crypto.subtle`, or WebCryptoUnavailableError. */
export function subtle(): SubtleCrypto {
  const api = webCrypto().subtle;
  if (!api) throw new WebCryptoUnavailableError("crypto.subtle (WebCrypto)");
  return api;
}

/**
 * `bytes` typed as WebCrypto's BufferSource: the same view when it sits on an ArrayBuffer (no copy), a
 * copy when it sits on a SharedArrayBuffer, which WebCrypto refuses.
 */
export function asBufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
