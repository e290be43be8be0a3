/**
 * EIP-712 digests without ethers or viem, for structs of atomic fields (address, bool, uintN, intN,
 * bytesN, bytes, string): what the SDK's own typed messages use. Nested structs and arrays are refused,
 * not guessed. Checked against ethers' TypedDataEncoder in test/sdk/personal-sign.test.ts.
 */
import { concatBytes, hexToBytes, utf8Encode } from "../crypto/bytes";
import { InvalidArgumentError } from "../errors";
import { getAddress, keccak256 } from "./hex";
import { recoverAddress } from "./personal-sign";

/** An EIP-712 domain (the fields present are the ones hashed, in the standard order). */
export interface Eip712Domain {
  name?: string | null;
  version?: string | null;
  chainId?: bigint | number | string | null;
  verifyingContract?: string | null;
  salt?: string | Uint8Array | null;
}

export interface Eip712Field {
  name: string;
  type: string;
}

const DOMAIN_FIELDS: readonly Eip712Field[] = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
  { name: "salt", type: "bytes32" },
];

const word = (value: bigint): Uint8Array => hexToBytes(`0x${value.toString(16).padStart(64, "0")}`);

function encodeValue(type: string, value: unknown, field: string): Uint8Array {
  const fail = (why = "") => new InvalidArgumentError(field, `cannot be encoded as EIP-712 ${type}${why}`);
  if (value === undefined || value === null) throw fail(": it is missing");
  if (type === "address") {
    try {
      return word(BigInt(getAddress(value as string)));
    } catch {
      throw fail();
    }
  }
  if (type === "bool") {
    if (typeof value !== "boolean") throw fail(": expected true or false");
    return word(value ? 1n : 0n);
  }
  if (type === "string") {
    if (typeof value !== "string") throw fail(": expected a string");
    return hexToBytes(keccak256(utf8Encode(value)));
  }
  if (type === "bytes") {
    if (!(value instanceof Uint8Array) && typeof value !== "string") throw fail(": expected bytes or 0x-hex");
    return hexToBytes(keccak256(value instanceof Uint8Array ? value : hexToBytes(value)));
  }
  const uint = /^(u?)int(\d+)$/.exec(type);
  // Only the widths Solidity has (8 to 256 in steps of 8), so no width yields a word of more than 32 bytes.
  if (uint && Number(uint[2]) >= 8 && Number(uint[2]) <= 256 && Number(uint[2]) % 8 === 0) {
    const bits = BigInt(uint[2]);
    if (typeof value !== "bigint" && typeof value !== "number" && typeof value !== "string") throw fail();
    let big: bigint;
    try {
      big = BigInt(value);
    } catch {
      throw fail();
    }
    const signed = uint[1] === "";
    const min = signed ? -(1n << (bits - 1n)) : 0n;
    const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (big < min || big > max) throw fail(": out of range");
    return word(big < 0n ? (1n << 256n) + big : big);
  }
  const fixed = /^bytes(\d+)$/.exec(type);
  if (fixed && Number(fixed[1]) >= 1 && Number(fixed[1]) <= 32) {
    if (!(value instanceof Uint8Array) && typeof value !== "string") throw fail(": expected bytes or 0x-hex");
    const bytes = value instanceof Uint8Array ? value : hexToBytes(value);
    if (bytes.length !== Number(fixed[1])) throw fail(`: expected ${fixed[1]} bytes, got ${bytes.length}`);
    const out = new Uint8Array(32);
    out.set(bytes);
    return out;
  }
  throw new InvalidArgumentError(field, `EIP-712 type ${type} is not supported here (atomic types only)`);
}

function hashStruct(name: string, fields: readonly Eip712Field[], value: Record<string, unknown>): Uint8Array {
  const typeHash = keccak256(utf8Encode(`${name}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`));
  return hexToBytes(
    keccak256(
      concatBytes(hexToBytes(typeHash), ...fields.map((f) => encodeValue(f.type, value[f.name], `${name}.${f.name}`))),
    ),
  );
}

/** The digest an EIP-712 signature of `message` (a `primaryType` struct) signs under `domain`. */
export function typedDataDigest(
  domain: Eip712Domain,
  types: Record<string, readonly Eip712Field[]>,
  primaryType: string,
  message: Record<string, unknown>,
): Uint8Array {
  const fields = types[primaryType];
  if (!fields) throw new InvalidArgumentError("primaryType", `${primaryType} is not among the types`);
  const unknown = Object.keys(domain).filter((key) => !DOMAIN_FIELDS.some((f) => f.name === key));
  if (unknown.length > 0)
    throw new InvalidArgumentError("domain", `has fields EIP-712 does not define: ${unknown.join(", ")}`);
  const domainFields = DOMAIN_FIELDS.filter((f) => (domain as Record<string, unknown>)[f.name] != null);
  const separator = hashStruct("EIP712Domain", domainFields, domain as Record<string, unknown>);
  return hexToBytes(
    keccak256(concatBytes(Uint8Array.of(0x19, 0x01), separator, hashStruct(primaryType, fields, message))),
  );
}

/** The checksummed address that signed `message` under `domain`; throws on a malformed signature. */
export function recoverTypedDataAddress(
  domain: Eip712Domain,
  types: Record<string, readonly Eip712Field[]>,
  primaryType: string,
  message: Record<string, unknown>,
  signature: string,
): string {
  return recoverAddress(typedDataDigest(domain, types, primaryType, message), signature);
}
