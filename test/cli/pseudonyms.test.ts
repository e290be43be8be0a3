/**
 * Pseudonyms from the bundled CLI (dist build, as shipped) on a real node with a real relayer
 * (gateway/relayer.ts over HTTP): `patient pseudonym derive|link`, `provider pair <link>`, and a
 * pseudonym's grant and revoke sent with `--relayer`, the pseudonym never holding ether; a deployment
 * file naming a relayer makes every signed action go through it by default (`--no-relayer` sends
 * directly; an action with no signed form would go directly, with a note); `pseudonym link --qr` draws the link.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { parseEther, Wallet } from "ethers";
import QRCode from "qrcode";

import { startRelayer, type RunningRelayer } from "../../gateway/relayer";
import { derivePseudonymRoot } from "../../sdk/index";
import { deployCliSuite, type CliResult, type CliSuite } from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";
import { ConsentLedger__factory } from "../../typechain-types";

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

  it("`patient pseudonym link --qr` prints the link as a terminal QR code, and only with --qr", async function () {
    const args = ["patient", "pseudonym", "link", "--domain", DOMAIN, "--provider", suite.address.hospital];
    const plain = ok(await suite.run("patient", args)).stdout;
    const link = /link\s+(clpair1\.\S+)/.exec(plain)?.[1] as string;
    expect(link, plain).to.match(/^clpair1\./);
    const withQr = ok(await suite.run("patient", [...args, "--qr"])).stdout;
    // The link is signed afresh each time (its expiry moves), so each output is checked against its own link.
    const qrLink = /link\s+(clpair1\.\S+)/.exec(withQr)?.[1] as string;
    const expected = await QRCode.toString(qrLink, { type: "terminal", small: true, errorCorrectionLevel: "M" });
    expect(withQr).to.include("Scan to pair (the link):").and.include(expected.trimEnd());
    expect(withQr).to.match(/[▀▄█]/);
    expect(plain).not.to.match(/[▀▄█]/).and.not.include("Scan to pair");
    const asJson = json<{ link: string; url: string; qr: string }>(
      await suite.run("patient", ["--json", ...args, "--url", "https://hospital.example/pair", "--qr"]),
    );
    expect(asJson.qr).to.equal(
      await QRCode.toString(asJson.url, { type: "terminal", small: true, errorCorrectionLevel: "M" }),
    );
    expect(json<Record<string, unknown>>(await suite.run("patient", ["--json", ...args]))).not.to.have.property("qr");
  });

  describe("a deployment file that names a relayer", function () {
    let env: Record<string, string>;

    before(function () {
      const dir = path.join(suite.workDir("deployment-with-relayer"), "deployments");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "31337.json"), JSON.stringify({ ...suite.deployment, relayer: relayer.url }));
      env = { CONSENT_LEDGER_DEPLOYMENTS: dir };
    });

    const grantArgs = (grantee: string) => [
      "--json",
      "patient",
      "grant",
      "--grantee",
      grantee,
      "--classes",
      "LAB_RESULT",
      "--purposes",
      "TREAT",
      "--until",
      "30d",
    ];

    it("sends a grant through that relayer by default, and directly with --no-relayer", async function () {
      const viaRelayer = await suite.run("patient", grantArgs(suite.address.lab), { env });
      const granted = json<{ patient: string; transactionHash: string }>(viaRelayer);
      expect(granted.patient).to.equal(suite.address.patient);
      expect((await suite.provider.getTransaction(granted.transactionHash))!.from).to.equal(relayer.relayer);
      expect(viaRelayer.stderr).to.include(`through the relayer at ${relayer.url}`).and.include("you pay no gas");

      const direct = await suite.run("patient", [...grantArgs(suite.address.lab), "--no-relayer"], { env });
      const sent = json<{ transactionHash: string }>(direct);
      expect((await suite.provider.getTransaction(sent.transactionHash))!.from).to.equal(suite.address.patient);
      expect(direct.stderr).not.to.include("relayer");
    });

    it("lets a pseudonym act with no --relayer, and refuses it with --no-relayer", async function () {
      const as = ["--pseudonym", "index:7", "--domain", DOMAIN];
      const granted = json<{ patient: string; transactionHash: string }>(
        await suite.run("patient", [...grantArgs(suite.address.hospital), ...as], { env }),
      );
      expect((await suite.provider.getTransaction(granted.transactionHash))!.from).to.equal(relayer.relayer);
      expect(await suite.provider.getBalance(granted.patient)).to.equal(0n);
      expect(
        failed(
          await suite.run("patient", [...grantArgs(suite.address.hospital).slice(1), ...as, "--no-relayer"], { env }),
        ),
      ).to.include("does not go with --no-relayer");
    });

    it("relays the emergency opt-out and the policy too (signed forms since ledger 4.0.0), for a pseudonym as well", async function () {
      const result = await suite.run("patient", ["--json", "patient", "emergency", "opt-out"], { env });
      const sent = json<{ transactionHash: string }>(result);
      expect((await suite.provider.getTransaction(sent.transactionHash))!.from).to.equal(relayer.relayer);
      expect(result.stderr).to.include(`through the relayer at ${relayer.url}`).and.not.include("no signed form");
      expect(
        await ConsentLedger__factory.connect(suite.deployment.ledger, suite.provider).emergencyOptedOut(
          suite.address.patient,
        ),
      ).to.equal(true);
      const cleared = json<{ transactionHash: string }>(
        await suite.run(
          "patient",
          ["--json", "patient", "policy", "clear", "--pseudonym", "index:7", "--domain", DOMAIN],
          { env },
        ),
      );
      expect((await suite.provider.getTransaction(cleared.transactionHash))!.from).to.equal(relayer.relayer);
      ok(await suite.run("patient", ["patient", "emergency", "opt-in"], { env }));
      expect(
        await ConsentLedger__factory.connect(suite.deployment.ledger, suite.provider).emergencyOptedOut(
          suite.address.patient,
        ),
      ).to.equal(false);
    });

    it("refuses a relayer that is down or serves another ledger, before signing anything", async function () {
      const dir = path.join(suite.workDir("deployment-with-dead-relayer"), "deployments");
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        path.join(dir, "31337.json"),
        JSON.stringify({ ...suite.deployment, relayer: "http://127.0.0.1:9" }),
      );
      const down = failed(
        await suite.run("patient", grantArgs(suite.address.lab).slice(1), { env: { CONSENT_LEDGER_DEPLOYMENTS: dir } }),
      );
      expect(down).to.include("did not answer").and.include("--no-relayer");
      const other = await startRelayer({
        rpcUrl: suite.node.url,
        privateKey: Wallet.createRandom().privateKey,
        deployment: { ...suite.deployment, ledger: suite.deployment.records },
      }).catch((error: unknown) => error);
      if (other instanceof Error) this.skip();
      try {
        const wrong = failed(
          await suite.run(
            "patient",
            [...grantArgs(suite.address.lab).slice(1), "--relayer", (other as RunningRelayer).url],
            {
              env,
            },
          ),
        );
        expect(wrong).to.include("relays to ledger");
      } finally {
        await (other as RunningRelayer).close();
      }
    });
  });
});
