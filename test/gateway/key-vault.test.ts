import { KeyObject } from "node:crypto";

import { expect } from "chai";

import { aesGcmDecrypt, aesGcmEncrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, hexToBytes, randomBytes } from "../../sdk/crypto/bytes";
import { DecryptionError } from "../../sdk/errors";
import { KeyVault, WrongMasterKeyError } from "../../gateway/key-vault";
import { expectRejects } from "../helpers/expect-error";

const RECORD = `0x${"ab".repeat(32)}`;
const OTHER = `0x${"cd".repeat(32)}`;

/** Every byte array reachable from the vault's own fields (one level down, and inside promises' results). */
async function bytesHeldBy(vault: KeyVault): Promise<Uint8Array[]> {
  const found: Uint8Array[] = [];
  for (const value of Object.values(vault as unknown as Record<string, unknown>)) {
    const settled = value instanceof Promise ? await value : value;
    if (settled instanceof Uint8Array) found.push(settled);
    else if (settled && typeof settled === "object")
      for (const inner of Object.values(settled)) if (inner instanceof Uint8Array) found.push(inner);
  }
  return found;
}

describe("gateway/key-vault", function () {
  it("holds the master key only as a native KeyObject: no copy of its bytes in JavaScript", async function () {
    const masterKey = randomBytes(32);
    const vault = new KeyVault(masterKey);
    const sealed = await vault.seal(RECORD, randomBytes(32));
    for (const held of await bytesHeldBy(vault))
      expect(bytesEqual(held, masterKey), "a raw copy of the master key").to.equal(false);
    const key = (vault as unknown as { key: KeyObject }).key;
    expect(key).to.be.instanceOf(KeyObject);
    expect(key.type).to.equal("secret");
    expect((await vault.open(RECORD, sealed)).length).to.equal(32);
  });

  it("seals to a record, refuses another record's row, a wrong master key, and works no more once destroyed", async function () {
    const masterKey = randomBytes(32);
    const vault = new KeyVault(masterKey);
    const dataKey = randomBytes(32);
    const sealed = await vault.seal(RECORD, dataKey);
    expect(bytesEqual(await vault.open(RECORD, sealed), dataKey)).to.equal(true);
    let moved: unknown;
    await vault.open(OTHER, sealed).catch((caught: unknown) => (moved = caught));
    expect(moved).to.be.instanceOf(DecryptionError);

    const check = await vault.checkValue();
    await new KeyVault(masterKey).verifyCheckValue(check);
    let wrong: unknown;
    await new KeyVault(randomBytes(32)).verifyCheckValue(check).catch((caught: unknown) => (wrong = caught));
    expect(wrong).to.be.instanceOf(WrongMasterKeyError);

    vault.destroy();
    let destroyed: unknown;
    await vault.seal(RECORD, dataKey).catch((caught: unknown) => (destroyed = caught));
    expect(String(destroyed)).to.contain("destroyed");
  });
});

describe("the custodian gateway: key vault (node:crypto AES-256-GCM)", function () {
  const masterKey = randomBytes(32);
  const vault = new KeyVault(masterKey);
  const dataKey = randomBytes(32);

  it("seals exactly as the SDK's AES-GCM does: each opens what the other sealed", async function () {
    const sealed = await vault.seal(RECORD, dataKey);
    expect(
      bytesEqual(await aesGcmDecrypt(masterKey, sealed.iv, sealed.ciphertext, hexToBytes(RECORD)), dataKey),
    ).to.equal(true);
    const iv = randomBytes(12);
    const bySdk = await aesGcmEncrypt(masterKey, iv, dataKey, hexToBytes(RECORD));
    expect(bytesEqual(await vault.open(RECORD, { iv, ciphertext: bySdk }), dataKey)).to.equal(true);
  });

  it("refuses with DecryptionError a sealed key moved to another record, altered, or under another master key", async function () {
    const sealed = await vault.seal(RECORD, dataKey);
    await expectRejects(vault.open(OTHER, sealed), DecryptionError);
    const altered = Uint8Array.from(sealed.ciphertext);
    altered[0] ^= 1;
    await expectRejects(vault.open(RECORD, { iv: sealed.iv, ciphertext: altered }), DecryptionError);
    await expectRejects(
      vault.open(RECORD, { iv: sealed.iv, ciphertext: sealed.ciphertext.subarray(0, 10) }),
      DecryptionError,
    );
    await expectRejects(new KeyVault(randomBytes(32)).open(RECORD, sealed), DecryptionError);
  });

  it("tells a wrong master key from its check value", async function () {
    const check = await vault.checkValue();
    await vault.verifyCheckValue(check);
    let refused: unknown;
    await new KeyVault(randomBytes(32)).verifyCheckValue(check).catch((error: unknown) => (refused = error));
    expect((refused as Error).name).to.equal("WrongMasterKeyError");
  });
});
