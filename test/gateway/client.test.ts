import path from "node:path";

import { expect } from "chai";

import { formatViolations, walkImportGraph } from "../helpers/import-graph";

describe("the gateway client (sdk/clients/gateway.ts)", function () {
  it("is browser-safe: nothing it imports at runtime reaches a Node built-in", function () {
    const graph = walkImportGraph([path.resolve(__dirname, "..", "..", "sdk", "clients", "gateway.ts")]);
    expect(graph.violations, formatViolations(graph)).to.deep.equal([]);
    expect(graph.files.some((file) => file.includes(`${path.sep}gateway${path.sep}`))).to.equal(false);
  });
});
