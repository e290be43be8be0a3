/**
 * What README.md and docs/ tell an outside client, checked against the code: the EIP-712 domains, SDK
 * examples that import the package (not a repository path), and one way to open an FsBlobStore.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";

import { GATEWAY_LOGIN_DOMAIN_NAME, GATEWAY_LOGIN_DOMAIN_VERSION } from "../../sdk/index";
import { deployLedgerFixture } from "../helpers/fixtures";

const ROOT = path.resolve(__dirname, "../..");
const DOCS = path.join(ROOT, "docs");
/** README.md and every guide in docs/, as one text. */
const README = [
  readFileSync(path.join(ROOT, "README.md"), "utf8"),
  ...readdirSync(DOCS)
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => readFileSync(path.join(DOCS, name), "utf8")),
].join("\n");
const tsBlocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);

describe("README.md and docs/, for a client written from the docs", function () {
  it("names the ledger's EIP-712 domain as the contract reports it", async function () {
    const { ledger } = await loadFixture(deployLedgerFixture);
    const domain = await ledger.eip712Domain();
    const stated = README.match(
      /EIP-712 domain\s+`\{ name: "([^"]+)", version: "([^"]+)", chainId, verifyingContract: <ConsentLedger address> \}`/,
    );
    expect(stated, "README states the ledger's EIP-712 domain").to.not.equal(null);
    expect([stated![1], stated![2]]).to.deep.equal([domain.name, domain.version]);
    const login = README.match(/login uses\s+`\{ name: "([^"]+)", version: "([^"]+)"/);
    expect([login?.[1], login?.[2]]).to.deep.equal([GATEWAY_LOGIN_DOMAIN_NAME, GATEWAY_LOGIN_DOMAIN_VERSION]);
  });

  it("imports the SDK by its package name in every TypeScript example", function () {
    expect(tsBlocks.length).to.be.greaterThan(5);
    const imports = tsBlocks.flatMap((block) => [...block.matchAll(/from "([^"]+)"/g)].map((match) => match[1]));
    expect(imports).to.include("consent-ledger");
    expect(imports.filter((specifier) => specifier.startsWith("."))).to.deep.equal([]);
  });

  it("opens an FsBlobStore one way, with FsBlobStore.open", function () {
    const opened = tsBlocks.join("\n").match(/FsBlobStore\.open\(|new FsBlobStore\(/g) ?? [];
    expect(opened.length).to.be.greaterThan(1);
    expect(new Set(opened)).to.deep.equal(new Set(["FsBlobStore.open("]));
  });
});
