import path from "node:path";

import { expect } from "chai";

import { formatViolations, walkImportGraph } from "../helpers/import-graph";

const ROOT = path.resolve(__dirname, "../..");

describe("the SDK's core entry point (consent-ledger)", function () {
  it("reaches no Node built-in through any import, so it bundles for browsers", function () {
    const graph = walkImportGraph([path.join(ROOT, "sdk/index.ts")]);
    expect(graph.violations, formatViolations(graph, ROOT)).to.deep.equal([]);
    // It does reach the clients, the typechain bindings and the libraries they use.
    for (const file of ["sdk/clients/gateway.ts", "sdk/clients/audit.ts", "typechain-types/factories/contracts/ConsentLedger__factory.ts"]) {
      expect(graph.files, file).to.include(path.join(ROOT, file));
    }
    expect(graph.packages).to.include.members(["ethers", "@openzeppelin/merkle-tree", "@noble/curves"]);
  });

  it("keeps the Node-only parts behind consent-ledger/node", function () {
    const graph = walkImportGraph([path.join(ROOT, "sdk/node.ts")]);
    expect(graph.violations.length).to.be.greaterThan(0);
  });
});
