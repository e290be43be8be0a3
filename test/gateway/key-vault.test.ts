import { expect } from "chai";

import { aesGcmDecrypt, aesGcmEncrypt } from "../../sdk/crypto/aes-gcm";
import { bytesEqual, hexToBytes, randomBytes } from "../../sdk/crypto/bytes";
import { DecryptionError } from "../../sdk/errors";
import { KeyVault } from "../../gateway/key-vault";
import { expectRejects } from "../helpers/expect-error";

const RECORD = `0x${"11".repeat(32)}`;
const OTHER_RECORD = `0x${"22".repeat(32)}`;

describe("the custodian gateway: key vault (node:crypto AES-256-GCM)", function () {
  const masterKey = randomBytes(32);
  const vault = new KeyVault(masterKey);
  const dataKey = randomBytes(32);

  it("seals exactly as the SDK's AES-GCM does: each opens what the other sealed", async function () {
    const sealed = await vault.seal(RECORD, dataKey);
    expect(bytesEqual(await aesGcmDecrypt(masterKey, sealed.iv, sealed.ciphertext, hexToBytes(RECORD)), dataKey)).to.equal(
      true,
    );
    const iv = randomBytes(12);
    const bySdk = await aesGcmEncrypt(masterKey, iv, dataKey, hexToBytes(RECORD));
    expect(bytesEqual(await vault.open(RECORD, { iv, ciphertext: bySdk }), dataKey)).to.equal(true);
  });

  it("refuses with DecryptionError a sealed key moved to another record, altered, or under another master key", async function () {
    const sealed = await vault.seal(RECORD, dataKey);
    await expectRejects(vault.open(OTHER_RECORD, sealed), DecryptionError);
    const altered = Uint8Array.from(sealed.ciphertext);
    altered[0] ^= 1;
    await expectRejects(vault.open(RECORD, { iv: sealed.iv, ciphertext: altered }), DecryptionError);
    await expectRejects(vault.open(RECORD, { iv: sealed.iv, ciphertext: sealed.ciphertext.subarray(0, 10) }), DecryptionError);
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
