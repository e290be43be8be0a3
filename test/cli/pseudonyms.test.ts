/**
 * Pseudonyms from the bundled CLI (dist build, as shipped) on a real node with a real relayer
 * (gateway/relayer.ts over HTTP): `patient pseudonym derive|link`, `provider pair <link>`, and a
 * pseudonym's grant and revoke sent with `--relayer`, the pseudonym never holding ether.
 */
import { expect } from "chai";
import { parseEther, Wallet } from "ethers";

import { startRelayer, type RunningRelayer } from "../../gateway/relayer";
import { derivePseudonymRoot } from "../../sdk/index";
import { deployCliSuite, type CliResult, type CliSuite } from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";

const DOMAIN = "app.consent-ledger.example";

function ok(result: CliResult): CliResult {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(0);
  return result;
}
const json = <T = Record<string, unknown>>(result: CliResult): T => JSON.parse(ok(result).stdout) as T;
function failed(result: CliResult): string {
  expect(result.code, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).to.equal(1);
  return result.errorLines.join("\n");
}

describe("consent-ledger CLI: pseudonyms, pairing links and the relayer", function () {
  this.timeout(180_000);

  let suite: CliSuite;
  let relayer: RunningRelayer;

  before(async function () {
    suite = await deployCliSuite(await sharedLocalNode());
    // The relayer sends from its own funded account (not one the other CLI tests use).
    const key = Wallet.createRandom();
    await (await suite.signer.admin.sendTransaction({ to: key.address, value: parseEther("10") })).wait();
    relayer = await startRelayer({ rpcUrl: suite.node.url, privateKey: key.privateKey, deployment: suite.deployment });
  });

  after(async function () {
    await relayer?.close();
    suite?.cleanup();
  });

  it("`patient pseudonym derive` prints the same addresses the SDK (and the dashboard) derive for the key, domain, chain and ledger", async function () {
    const rows = json<{ id: string; address: string }[]>(
      await suite.run("patient", [
        "--json",
        "patient",
        "pseudonym",
        "derive",
        "--domain",
        DOMAIN,
        "--provider",
        suite.address.hospital,
        "--study",
        "diabetes-2026",
        "--index",
        "0",
      ]),
    );
    const root = await derivePseudonymRoot(new Wallet(suite.key.patient), {
      domain: DOMAIN,
      chainId: 31337,
      ledger: suite.deployment.ledger,
    });
    expect(rows).to.deep.equal(
      [root.forProvider(suite.address.hospital), root.forStudy("diabetes-2026"), root.fresh(0)].map((p) => ({
        id: p.id,
        address: p.address,
      })),
    );
    root.destroy();

    expect(
      failed(
        await suite.run("patient", ["patient", "pseudonym", "derive", "--domain", DOMAIN, "--study", "Bad Label"]),
      ),
    ).to.include("a study label is 1 to 64");
    expect(failed(await suite.run("patient", ["patient", "pseudonym", "derive", "--domain", DOMAIN]))).to.include(
      "name at least one relationship",
    );
  });

  it("`patient pseudonym link` signs a link the provider accepts with `provider pair`; another provider's `pair` refuses it", async function () {
    const link = json<{ pseudonym: string; link: string; url: string }>(
      await suite.run("patient", [
        "--json",
        "patient",
        "pseudonym",
        "link",
        "--domain",
        DOMAIN,
        "--provider",
        suite.address.hospital,
        "--url",
        "https://hospital.example/pair",
      ]),
    );
    expect(link.link).to.match(/^clpair1\./);
    expect(link.url).to.equal(`https://hospital.example/pair#pair=${link.link}`);
    const paired = json<{ pseudonym: string }>(await suite.run("hospital", ["--json", "provider", "pair", link.url]));
    expect(paired.pseudonym).to.equal(link.pseudonym);
    const human = ok(await suite.run("hospital", ["provider", "pair", link.link])).stdout;
    expect(human).to.include(link.pseudonym).and.include("provider publish --patient");
    expect(failed(await suite.run("lab", ["provider", "pair", link.link]))).to.include("refused (WrongProvider)");
    expect(failed(await suite.run("hospital", ["provider", "pair", "clpair1.not-a-link"]))).to.include(
      "refused (Malformed)",
    );
  });

  it("a pseudonym grants and revokes through `--relayer`: the relayer sends, the pseudonym holds no ether; without a relayer it is refused", async function () {
    const [{ address: pseudonym }] = json<{ address: string }[]>(
      await suite.run("patient", [
        "--json",
        "patient",
        "pseudonym",
        "derive",
        "--domain",
        DOMAIN,
        "--provider",
        suite.address.hospital,
      ]),
    );
    const as = ["--pseudonym", `provider:${suite.address.hospital}`, "--domain", DOMAIN];
    expect(
      failed(await suite.run("patient", ["patient", "revoke", "--grantee", suite.address.hospital, ...as])),
    ).to.include("acts only through a relayer");

    const granted = json<{ patient: string; grantee: string; transactionHash: string }>(
      await suite.run("patient", [
        "--json",
        "patient",
        "grant",
        "--grantee",
        suite.address.hospital,
        "--classes",
        "LAB_RESULT",
        "--purposes",
        "TREAT",
        "--until",
        "90d",
        "--relayer",
        relayer.url,
        ...as,
      ]),
    );
    expect(granted.patient).to.equal(pseudonym);
    expect((await suite.provider.getTransaction(granted.transactionHash))!.from).to.equal(relayer.relayer);

    const revoked = json<{ patient: string; transactionHash: string }>(
      await suite.run("patient", [
        "--json",
        "patient",
        "revoke",
        "--grantee",
        suite.address.hospital,
        "--relayer",
        relayer.url,
        ...as,
      ]),
    );
    expect(revoked.patient).to.equal(pseudonym);
    expect((await suite.provider.getTransaction(revoked.transactionHash))!.from).to.equal(relayer.relayer);
    expect(await suite.provider.getBalance(pseudonym)).to.equal(0n);
    expect(await suite.provider.getTransactionCount(pseudonym)).to.equal(0);
  });
});
