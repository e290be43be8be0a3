/**
 * Fork protection, on a real second node: a signature made for the chain the ledger was deployed on is
 * refused once that chain's id changes (as after a contentious fork), and one made for the new id works.
 * Hardhat's network cannot change its chain id while running; Foundry's anvil can (`anvil_setChainId`),
 * so this file starts anvil from the npm package `@foundry-rs/anvil` and deploys the ledger there.
 */
import { expect } from "chai";
import hre from "hardhat";
import { type ContractTransactionResponse, HDNodeWallet, JsonRpcProvider, Wallet } from "ethers";

import { DataClass, Purpose, maskOf } from "../../sdk/codes";
import { ConsentLedger__factory } from "../../typechain-types/factories/contracts/ConsentLedger__factory";
import type { ConsentLedger } from "../../typechain-types/contracts/ConsentLedger";
import { DAY, LEDGER_PARAMS } from "../helpers/fixtures";
import { startAnvilNode } from "../../scripts/lib/anvil-node";
import { rpc } from "../helpers/local-node";
import { signGrant } from "../helpers/signatures";

/** anvil's default development mnemonic (Hardhat's too): public test keys, never for real funds. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const ORIGINAL_CHAIN_ID = 31337n;
const FORKED_CHAIN_ID = 31338n;

/** Whether this run is solidity-coverage's (it marks the Hardhat runtime environment it runs in). */
function underCoverage(): boolean {
  return (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;
}

/** anvil with the ledger's chain id (31337, as startAnvilNode sets it). */
function startAnvil() {
  // Under `npm run coverage` the bindings carry solidity-coverage's instrumented bytecode, which is past
  // EIP-170's limit; only then is anvil told to allow it (the real ledger is measured under the limit by
  // the gas snapshot's bytecode sizes).
  return startAnvilNode({ args: underCoverage() ? ["--disable-code-size-limit"] : [] });
}

/** A provider and the cast's keys for the chain as it is now (ethers fixes a provider's chain id at start). */
function connect(url: string) {
  const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
  const key = (index: number) =>
    new Wallet(HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey, provider);
  return { provider, admin: key(0), patient: key(1), hospital: key(2), relayer: key(3) };
}

describe("SignedConsents on a chain whose id changes (anvil)", function () {
  this.timeout(120_000);
  let anvil: Awaited<ReturnType<typeof startAnvil>>;
  let ledgerAddress: string;

  before(async function () {
    anvil = await startAnvil();
    const { admin } = connect(anvil.url);
    const ledger = await new ConsentLedger__factory(admin).deploy(
      admin.address,
      LEDGER_PARAMS.requestTtl,
      LEDGER_PARAMS.maxRequestDuration,
      LEDGER_PARAMS.maxEmergencyDuration,
    );
    await ledger.waitForDeployment();
    ledgerAddress = await ledger.getAddress();
  });

  after(async function () {
    await anvil?.stop();
  });

  async function signedGrant(ledger: ConsentLedger, patient: Wallet, grantee: string, nonce: bigint) {
    const now = (await ledger.runner!.provider!.getBlock("latest"))!.timestamp;
    const terms = {
      grantee,
      dataClasses: maskOf([DataClass.LAB_RESULT]),
      purposes: maskOf([Purpose.TREAT]),
      validFrom: 0,
      validUntil: now + 30 * DAY,
    };
    return signGrant(ledger, patient, { patient: patient.address, terms }, { nonce, deadline: now + DAY });
  }

  it("refuses with InvalidSignature a grant signed for the old chain id, and accepts one signed for the new", async function () {
    const before = connect(anvil.url);
    const ledgerBefore = ConsentLedger__factory.connect(ledgerAddress, before.patient);
    expect((await ledgerBefore.eip712Domain()).chainId).to.equal(ORIGINAL_CHAIN_ID);
    const signedBeforeFork = await signedGrant(ledgerBefore, before.patient, before.hospital.address, 1n);
    before.provider.destroy();

    await rpc(anvil.url, "anvil_setChainId", [Number(FORKED_CHAIN_ID)]);
    const after = connect(anvil.url);
    expect((await after.provider.getNetwork()).chainId).to.equal(FORKED_CHAIN_ID);
    const ledger = ConsentLedger__factory.connect(ledgerAddress, after.relayer);
    // OpenZeppelin's EIP712 rebuilds its domain from block.chainid once it differs from the cached one.
    expect((await ledger.eip712Domain()).chainId).to.equal(FORKED_CHAIN_ID);

    await expect(ledger.grantBySig(...signedBeforeFork))
      .to.be.revertedWithCustomError(ledger, "InvalidSignature")
      .withArgs(after.patient.address);
    expect(await ledger.nonceBitmap(after.patient.address, 0n)).to.equal(0n);

    const signedAfterFork = await signedGrant(ledger.connect(after.patient), after.patient, after.hospital.address, 1n);
    const tx: ContractTransactionResponse = await ledger.grantBySig(...signedAfterFork);
    await expect(tx).to.emit(ledger, "ConsentGranted");
    expect(await ledger.nonceBitmap(after.patient.address, 0n)).to.equal(1n << 1n);
    after.provider.destroy();
  });
});
