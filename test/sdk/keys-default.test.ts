import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { DEFAULT_KEY_DOMAIN, ResearcherClient } from "../../sdk/clients/researcher";
import { bytesToHex } from "../../sdk/crypto/bytes";
import { deriveEncryptionKeyPair, migrateEncryptionKey } from "../../sdk/crypto/keys";
import { deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

async function researcherFixture() {
  const suite = await deployLedgerFixture();
  const researcher = new ResearcherClient(await sdkContracts(suite, suite.university), suite.university);
  return { ...suite, researcher };
}

const hex = (key: { publicKey: Uint8Array }) => bytesToHex(key.publicKey);

describe("ResearcherClient.deriveEncryptionKey: the scoped v2 message by default", function () {
  it("derives from the v2 message scoped to this chain and KeyDirectory when no key is registered", async function () {
    const { researcher, university, keys } = await loadFixture(researcherFixture);
    const scope = await researcher.keyScope();
    expect(scope.domain).to.equal(DEFAULT_KEY_DOMAIN);
    expect(scope.keyDirectory).to.equal(await keys.getAddress());
    const derived = await researcher.deriveEncryptionKey();
    expect(hex(derived)).to.equal(hex(await deriveEncryptionKeyPair(university, { scope })));
    expect(hex(derived)).to.not.equal(hex(await deriveEncryptionKeyPair(university)));
    expect(hex(await researcher.deriveEncryptionKey({ legacy: true }))).to.equal(
      hex(await deriveEncryptionKeyPair(university)),
    );
  });

  it("keeps a key registered under v1 working, and moves to v2 once the migration registers it", async function () {
    const { researcher, university } = await loadFixture(researcherFixture);
    const legacy = await deriveEncryptionKeyPair(university);
    await (await researcher.registerEncryptionKey(legacy)).wait();
    expect(hex(await researcher.deriveEncryptionKey())).to.equal(hex(legacy));

    const scope = await researcher.keyScope();
    const { current, legacy: kept } = await migrateEncryptionKey(university, scope, legacy.publicKey);
    expect(hex(kept)).to.equal(hex(legacy));
    await (await researcher.registerEncryptionKey(current)).wait();
    expect(hex(await researcher.deriveEncryptionKey())).to.equal(hex(current));
  });

  it("derives v2 for an account whose registered key is no derived key (to register in its place)", async function () {
    const { researcher, university } = await loadFixture(researcherFixture);
    const other = await deriveEncryptionKeyPair(university, { scope: await researcher.keyScope("elsewhere.example") });
    await (await researcher.registerEncryptionKey(other)).wait();
    expect(hex(await researcher.deriveEncryptionKey())).to.equal(
      hex(await deriveEncryptionKeyPair(university, { scope: await researcher.keyScope() })),
    );
  });
});
