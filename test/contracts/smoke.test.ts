import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { deployLedgerFixture } from "../helpers/fixtures";

describe("the suite", function () {
  it("deploys every contract with its version", async function () {
    const { ledger, records, accessLog, keys } = await loadFixture(deployLedgerFixture);
    expect(await ledger.version()).to.equal("4.0.0");
    for (const contract of [records, accessLog]) expect(await contract.version()).to.equal("1.0.0");
    expect(await keys.version()).to.equal("1.1.0");
    expect(await records.ledger()).to.equal(await ledger.getAddress());
    expect(await accessLog.ledger()).to.equal(await ledger.getAddress());
  });
});
