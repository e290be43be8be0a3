import path from "node:path";

import { expect } from "chai";

import { formatViolations, walkImportGraph } from "../helpers/import-graph";

const ROOT = path.resolve(__dirname, "../..");

describe("the SDK's browser entry points (consent-ledger, consent-ledger/viem)", function () {
  it("reaches no Node built-in through any import, so it bundles for browsers", function () {
    const graph = walkImportGraph([path.join(ROOT, "sdk/index.ts")]);
    expect(graph.violations, formatViolations(graph, ROOT)).to.deep.equal([]);
    // It does reach the clients, the ABIs and the libraries they use.
    for (const file of ["sdk/clients/gateway.ts", "sdk/clients/audit.ts", "typechain-types/abis.ts"]) {
      expect(graph.files, file).to.include(path.join(ROOT, file));
    }
    expect(graph.packages).to.include.members(["ethers", "@openzeppelin/merkle-tree", "@noble/curves"]);
    // Binding the contracts needs their ABIs only: a dApp bundles no deployed contract's bytecode, only
    // ReadBatch's creation code, which the patient's event reader runs in eth_call.
    expect(
      graph.files.filter((file) => file.includes("typechain-types/factories")).map((file) => path.relative(ROOT, file)),
    ).to.deep.equal(["typechain-types/factories/contracts/lens/ReadBatch__factory.ts"]);
    expect(graph.packages, "a dApp on ethers bundles no viem").to.not.include("viem");
  });

  it("the viem entry (consent-ledger/viem) reaches no ethers and no Node built-in", function () {
    const graph = walkImportGraph([path.join(ROOT, "sdk/viem.ts")]);
    expect(graph.violations, formatViolations(graph, ROOT)).to.deep.equal([]);
    expect(graph.packages).to.include("viem");
    expect(graph.packages, "a dApp on viem bundles no ethers").to.not.include("ethers");
    expect(graph.files.filter((file) => file.includes("typechain-types/factories"))).to.deep.equal([]);
    // It shares the rules, tables, EIP-712 types, envelope and errors with the ethers entry: the same files.
    for (const file of [
      "sdk/clients/rules.ts",
      "sdk/clients/consent-types.ts",
      "sdk/codes.ts",
      "sdk/errors.ts",
      "sdk/chain/hints.ts",
      "sdk/crypto/envelope.ts",
    ]) {
      expect(graph.files, file).to.include(path.join(ROOT, file));
    }
  });

  it("keeps the Node-only parts behind consent-ledger/node", function () {
    const graph = walkImportGraph([path.join(ROOT, "sdk/node.ts")]);
    expect(graph.violations.length).to.be.greaterThan(0);
  });
});
