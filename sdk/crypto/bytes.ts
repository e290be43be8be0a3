/**
 * Byte helpers for the browser-safe core: hex, concatenation, equality, UTF-8 and randomness, on plain
 * Uint8Array (never Node's Buffer), so the same code runs in Node 20+ and in browsers.
 */
import { FormatError, InvalidArgumentError } from "../errors";
import { webCrypto } from "./webcrypto";

const HEX_DIGITS = "0123456789abcdef";
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4] + HEX_DIGITS[i & 15]);
const HEX_BODY = /^[0-9a-fA-F]*$/;

/** `bytes` as a 0x-prefixed lowercase hex string ("0x" for no bytes). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = "0x";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_HEX[bytes[i]];
  return out;
}

/**
 * The bytes of a 0x-prefixed hex string (either case). Throws InvalidArgumentError, naming `argument`,
 * if the prefix is missing, the length is odd, a character is not hex, or `length` is given and differs.
 */
export function hexToBytes(hex: string, options: { argument?: string; length?: number } = {}): Uint8Array {
  const argument = options.argument ?? "hex string";
  if (typeof hex !== "string")
    throw new InvalidArgumentError(argument, `expected a 0x-prefixed hex string, got ${typeof hex}`);
  if (!hex.startsWith("0x") && !hex.startsWith("0X"))
    throw new InvalidArgumentError(argument, "missing the 0x prefix", {
      hint: "Write hex as 0x followed by an even number of hex digits.",
    });
  const body = hex.slice(2);
  if (body.length % 2 !== 0)
    throw new InvalidArgumentError(argument, `odd number of hex digits (${body.length})`, {
      hint: "Each byte is two hex digits; check the value was not truncated.",
    });
  if (!HEX_BODY.test(body))
    throw new InvalidArgumentError(argument, "contains a character that is not a hex digit", {
      hint: "Use only 0-9 and a-f after the 0x prefix.",
    });
  const length = body.length / 2;
  if (options.length !== undefined && length !== options.length)
    throw new InvalidArgumentError(argument, `expected ${options.length} bytes, got ${length}`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(body.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** One array holding every part, in order (always a fresh copy). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Whether `a` and `b` hold the same bytes. NOT constant-time: it returns at the first difference. Use it
 * for public values only (hashes, record ids, public keys, headers); secret comparisons never happen in
 * this SDK because AES-GCM checks its own tag.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether every byte is zero (also true for no bytes). */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The UTF-8 bytes of `text`. */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The text UTF-8 `bytes` encode; FormatError (naming `what`) if they are not valid UTF-8. */
export function utf8Decode(bytes: Uint8Array, what = "UTF-8 text"): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new FormatError(what, "not valid UTF-8", {
      cause,
      hint: "The bytes are binary or were corrupted; they cannot be read as text.",
    });
  }
}

/** Standard base64 (RFC 4648 section 4, padded) of `bytes`, in chunks so a large input does not overflow the call stack. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  return btoa(binary);
}

/** Unpadded base64url (RFC 4648 section 5) of `bytes`: what links and QR codes carry. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of unpadded base64url `text`; throws on any other character. */
export function base64UrlToBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text))
    throw new FormatError("base64url text", "it has characters outside A-Z a-z 0-9 - _");
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** getRandomValues fills at most 65536 bytes per call. */
const RANDOM_CHUNK = 65_536;

/** `length` bytes from the platform's CSPRNG (`globalThis.crypto.getRandomValues`). */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new InvalidArgumentError("length", `expected a non-negative integer, got ${length}`);
  const cryptoApi = webCrypto();
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += RANDOM_CHUNK)
    cryptoApi.getRandomValues(out.subarray(offset, Math.min(offset + RANDOM_CHUNK, length)));
  return out;
}
