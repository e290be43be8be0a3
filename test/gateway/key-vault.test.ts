import { expect } from "chai";

import { bytesEqual, randomBytes } from "../../sdk/crypto/bytes";
import { DecryptionError } from "../../sdk/errors";
import { KeyVault, WrongMasterKeyError } from "../../gateway/key-vault";

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
  it("holds the master key only as a non-extractable WebCrypto key: no copy of its bytes in JavaScript", async function () {
    const masterKey = randomBytes(32);
    const vault = new KeyVault(masterKey);
    const sealed = await vault.seal(RECORD, randomBytes(32));
    for (const held of await bytesHeldBy(vault)) expect(bytesEqual(held, masterKey), "a raw copy of the master key").to.equal(false);
    const key = await (vault as unknown as { key: Promise<CryptoKey> }).key;
    expect(key.extractable).to.equal(false);
    expect(key.usages.sort()).to.deep.equal(["decrypt", "encrypt"]);
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
