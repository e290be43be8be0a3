/**
 * The dashboard's "Pseudonyms" mode (dapp/src/pseudonyms.ts) end to end in Chromium, on the same stack
 * as test/dapp/dashboard.test.ts (a real node, the demo's data, the custodian gateway, and the consent
 * relayer, gateway/relayer.ts, proxied by the page's server): a patient derives three pseudonyms with one
 * wallet signature (a provider, a second party, a study), the hospital pairs with the link the page shows
 * and files a record, consents and a research request arrive under the pseudonyms, the page shows all of
 * it as one view with each item tagged, and a revocation goes through the review step and the relayer.
 * No pseudonym ever holds ether or sends a transaction.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import QRCode from "qrcode";

import {
  connect,
  DataClass,
  DelegateIdentity,
  delegatesOf,
  derivePseudonymRoot,
  Duo,
  MemoryBlobStore,
  PatientIdentity,
  policyOf,
  ProviderClient,
  RelayerClient,
  ResearcherClient,
  type Pseudonym,
} from "../../sdk/index";
import { buildDapp } from "../../scripts/lib/dapp-server";
import { startDappStack, type DappStack } from "../../scripts/lib/dapp-stack";
import { requireChromium } from "../helpers/chromium";
import { labObservation } from "../helpers/gateway-harness";

const ARTIFACTS = path.resolve(__dirname, "..", "..", "test-artifacts", "dapp");
const AXE = path.resolve(__dirname, "..", "..", "node_modules", "axe-core", "axe.min.js");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const DAY = 86_400;
/** A development account the demo's cast does not use (0-7) and the relayer does not send from (8). */
const PATIENT_INDEX = 9;

describe("the dashboard's Pseudonyms mode in Chromium: three pseudonyms, one view, relayed revocation", function () {
  this.timeout(240_000);

  let stack: DappStack;
  let context: BrowserContext | undefined;
  let page: Page;
  let buildDir: string | undefined;
  let profileDir: string | undefined;
  let pseudonyms: Pseudonym[];
  const pageErrors: string[] = [];

  const ready = (target: Page) =>
    target.waitForFunction(
      () => document.body.dataset.state === "ready" || document.body.dataset.state === "error",
      null,
      { timeout: 60_000 },
    );
  const axe = async (target: Page) => {
    if (!(await target.evaluate(() => "axe" in window))) await target.addScriptTag({ path: AXE });
    return target.evaluate(async (tags) => {
      const run = (
        window as unknown as {
          axe: {
            run: (
              context: unknown,
              options: unknown,
            ) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
          };
        }
      ).axe;
      const result = await run.run(document, { runOnly: { type: "tag", values: tags } });
      return result.violations.map(
        (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
      );
    }, AXE_TAGS);
  };
  const derive = async () => {
    await page.locator('[data-action="derive"]').click();
    await page.locator("#pseudonym-form").waitFor({ timeout: 60_000 });
    await ready(page);
  };

  before(async function () {
    const executablePath = requireChromium();
    await mkdir(ARTIFACTS, { recursive: true });
    buildDir = await mkdtemp(path.join(os.tmpdir(), "consent-dapp-build-"));
    await buildDapp(buildDir, { logLevel: "silent" });
    stack = await startDappStack({ page: { dir: buildDir } });
    profileDir = await mkdtemp(path.join(os.tmpdir(), "consent-dapp-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 800 },
      locale: "en-GB",
      timezoneId: "UTC",
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      await page
        ?.screenshot({
          path: path.join(ARTIFACTS, `failed-pseudonyms-${this.currentTest.title.replace(/\W+/g, "-")}.png`),
          fullPage: true,
        })
        .catch(() => undefined);
    }
  });

  after(async function () {
    await context?.close().catch(() => undefined);
    await stack?.close();
    for (const dir of [buildDir, profileDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("derives pseudonyms from one wallet signature and shows a signed pairing link the hospital accepts", async function () {
    await page.goto(`${stack.url}/?account=${PATIENT_INDEX}&view=pseudonyms`);
    await ready(page);
    expect(await page.locator('[data-testid="view-pseudonyms"]').getAttribute("aria-current")).to.equal("page");
    await derive();

    const { hospital, university } = stack.cast;
    const add = async (kind: "provider" | "study", party: string, id: string) => {
      await page.locator("#pseudonym-kind").selectOption(kind);
      await page.locator("#pseudonym-party").fill(party);
      await page.locator('[data-action="add-pseudonym"]').click();
      await page.locator(`[data-testid="pseudonym"][data-relationship="${id}"]`).waitFor({ timeout: 60_000 });
      await ready(page);
    };
    // A bad label is refused next to the field, and creates nothing.
    await page.locator("#pseudonym-kind").selectOption("study");
    await page.locator("#pseudonym-party").fill("Not A Label");
    await page.locator('[data-action="add-pseudonym"]').click();
    expect(await page.locator('[data-testid="pseudonym-form-error"]').textContent()).to.include("lowercase");
    expect(await page.locator('[data-testid="pseudonym"]').count()).to.equal(0);

    await add("provider", hospital.address, `provider:${hospital.address.toLowerCase()}`);
    await add("provider", university.address, `provider:${university.address.toLowerCase()}`);
    await add("study", "diabetes-2026", "study:diabetes-2026");

    // The same derivation outside the page, from the same wallet and scope, gives the same addresses.
    const wallet = await stack.provider.getSigner(PATIENT_INDEX);
    const root = await derivePseudonymRoot(wallet, {
      domain: new URL(stack.url).host,
      chainId: stack.deployment.chainId,
      ledger: stack.deployment.ledger,
    });
    pseudonyms = [
      root.forProvider(hospital.address),
      root.forProvider(university.address),
      root.forStudy("diabetes-2026"),
    ];
    root.destroy();
    const shown = await page
      .locator('[data-testid="pseudonym"]')
      .evaluateAll((items) =>
        items.map((item) => [item.getAttribute("data-relationship"), item.getAttribute("data-address")]),
      );
    expect(shown).to.deep.equal(pseudonyms.map((p) => [p.id, p.address]));

    // The hospital pairs with the link as shown (text, with a copy button), and files a record under it.
    const hospitalItem = page.locator(`[data-testid="pseudonym"][data-relationship="${pseudonyms[0].id}"]`);
    const link = await hospitalItem.locator('[data-testid="pairing-link"]').inputValue();
    expect(link).to.match(/^clpair1\./);
    expect(await hospitalItem.locator('[data-action="copy-link"]').getAttribute("aria-label")).to.include("hospital");
    // Beside it, the same link as a QR code: an <img> of the SVG node-qrcode draws for exactly this link.
    const qr = hospitalItem.locator('[data-testid="pairing-qr"]');
    expect(await qr.getAttribute("alt")).to.include("QR code of the pairing link for hospital");
    const src = (await qr.getAttribute("src")) as string;
    const prefix = "data:image/svg+xml;charset=utf-8,";
    expect(src.startsWith(prefix), src.slice(0, 40)).to.equal(true);
    expect(decodeURIComponent(src.slice(prefix.length))).to.equal(
      await QRCode.toString(link, { type: "svg", errorCorrectionLevel: "M", margin: 2 }),
    );
    expect(
      await qr.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth),
    ).to.be.greaterThan(0);
    expect(
      await page.locator('[data-testid="pseudonym"][data-relationship^="study:"] [data-testid="pairing-qr"]').count(),
    ).to.equal(0);
    const provider = new ProviderClient(await connect(hospital, stack.deployment), hospital, new MemoryBlobStore());
    const paired = await provider.pairPatient(link);
    expect(paired.pseudonym).to.equal(pseudonyms[0].address);
    await (
      await provider.publish({
        patient: paired.pseudonym,
        dataClass: "LAB_RESULT",
        payload: labObservation("pseudo-obs", 101),
      })
    ).wait();
    // The university's link names the university: the hospital cannot use it.
    const universityLink = await page
      .locator(`[data-testid="pseudonym"][data-relationship="${pseudonyms[1].id}"] [data-testid="pairing-link"]`)
      .inputValue();
    let refused: unknown;
    await provider.pairPatient(universityLink).catch((error: unknown) => (refused = error));
    expect((refused as { problem?: string } | undefined)?.problem).to.equal("WrongProvider");
  });

  it("shows the records, consents, requests and audit of all three pseudonyms in one view, each tagged with its relationship", async function () {
    const { hospital, university } = stack.cast;
    const [atHospital, atUniversity, forStudy] = pseudonyms;
    const contracts = await connect(stack.provider, stack.deployment);
    const identity = new PatientIdentity(contracts, pseudonyms, { relayer: new RelayerClient(stack.relayerUrl) });
    const now = (await stack.provider.getBlock("latest"))!.timestamp;
    await (
      await identity.client(atHospital.id).grant({
        grantee: hospital.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: now + 365 * DAY,
      })
    ).wait();
    await (
      await identity.client(atUniversity.id).grant({
        grantee: university.address,
        dataClasses: ["IMAGING"],
        purposes: ["CLINTRCH"],
        validUntil: now + 180 * DAY,
      })
    ).wait();
    const researcher = new ResearcherClient(await connect(university, stack.deployment), university);
    const opened = await (
      await researcher.requestAccess({
        patient: forStudy.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "DS",
        diseaseId: 5148,
        duration: 180 * DAY,
        studyId: "diabetes-2026",
      })
    ).wait();

    // A new visit: the page keeps the list of relationships (no keys) and derives again from one signature.
    await page.reload();
    await ready(page);
    await derive();
    expect(await page.locator('[data-testid="pseudonym"]').count()).to.equal(3);

    const tags = async (testid: string) =>
      page
        .locator(`[data-testid="${testid}"]`)
        .evaluateAll((items) => items.map((item) => item.getAttribute("data-relationship")));
    expect(await tags("pseudonym-record")).to.deep.equal([atHospital.id]);
    expect((await tags("pseudonym-consent")).sort()).to.deep.equal([atHospital.id, atUniversity.id].sort());
    expect(await tags("pseudonym-request")).to.deep.equal([forStudy.id]);
    expect(
      await page.locator(`[data-testid="pseudonym-request"][data-request-id="${opened.requestId}"]`).count(),
    ).to.equal(1);
    expect(new Set(await tags("pseudonym-audit-entry"))).to.deep.equal(new Set(pseudonyms.map((p) => p.id)));
    const hospitalConsent = page.locator(`[data-testid="pseudonym-consent"][data-relationship="${atHospital.id}"]`);
    expect(await hospitalConsent.locator('[data-testid="relationship"]').textContent()).to.equal("with hospital");
    expect(await page.locator(`[data-testid="pseudonym-request"] [data-testid="relationship"]`).textContent()).to.equal(
      "study diabetes-2026",
    );

    expect(await axe(page), "axe violations").to.deep.equal([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "pseudonyms.png"), fullPage: true });
  });

  it("revokes one pseudonym's consent through the review step and the relayer; no pseudonym ever held ether or sent a transaction", async function () {
    const { hospital } = stack.cast;
    const [atHospital] = pseudonyms;
    const before = await stack.provider.getBlockNumber();
    // Cancel first: nothing is sent.
    await page
      .locator(`[data-testid="pseudonym-consent"][data-relationship="${atHospital.id}"] [data-action="revoke"]`)
      .click();
    const dialog = page.locator('[data-testid="review"]');
    await dialog.waitFor();
    expect(await dialog.textContent()).to.include("hospital");
    expect(await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")).to.equal("relayer");
    await dialog.locator('[data-action="cancel"]').click();
    await dialog.waitFor({ state: "detached" });
    expect(await stack.provider.getBlockNumber()).to.equal(before);

    await page
      .locator(`[data-testid="pseudonym-consent"][data-relationship="${atHospital.id}"] [data-action="revoke"]`)
      .click();
    await dialog.waitFor();
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(
      () =>
        document.getElementById("status")?.dataset.tone === "ok" &&
        /revoked/.test(document.getElementById("status")?.textContent ?? ""),
      null,
      { timeout: 60_000 },
    );
    expect(
      await page.locator(`[data-testid="pseudonym-consent"][data-relationship="${atHospital.id}"]`).count(),
    ).to.equal(0);
    expect(await page.locator('[data-testid="pseudonym-consent"]').count()).to.equal(1);

    const identity = new PatientIdentity(await connect(stack.provider, stack.deployment), pseudonyms);
    expect((await identity.consents()).map((c) => [c.relationship, c.grantee])).to.not.deep.include([
      atHospital.id,
      hospital.address,
    ]);
    expect(
      (await identity.auditTrail()).filter((e) => e.relationship === atHospital.id).map((e) => e.action),
    ).to.include("consent-revoked");

    // The revocation was sent by the relayer; no block holds a transaction from or ether to a pseudonym.
    const addresses = new Set(pseudonyms.map((p) => p.address));
    let fromRelayer = 0;
    let latest = await stack.provider.getBlockNumber();
    for (let number = before + 1; number <= latest; number++) {
      const block = await stack.provider.getBlock(number, true);
      for (const tx of block!.prefetchedTransactions) if (tx.from === stack.relayerAccount) fromRelayer++;
    }
    expect(fromRelayer, "transactions the relayer sent for the revocation").to.equal(1);

    // A grant from the study pseudonym, through the form, the review step and the relayer.
    const forStudy = pseudonyms[2];
    await page.locator("#pseudonym-grant-as").selectOption(forStudy.address);
    await page.locator("#pseudonym-grant-grantee").fill(stack.cast.pharma.address);
    await page.locator("#pseudonym-grant-class").selectOption("VITAL_SIGNS");
    await page.locator("#pseudonym-grant-purpose").selectOption("HRESCH");
    await page.locator("#pseudonym-grant-until").fill("2099-01-31");
    await page.locator('[data-action="grant"]').click();
    await dialog.waitFor();
    expect(await dialog.getAttribute("data-kind")).to.equal("grant");
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(() => /granted/.test(document.getElementById("status")?.textContent ?? ""), null, {
      timeout: 60_000,
    });
    expect(
      await page
        .locator(
          `[data-testid="pseudonym-consent"][data-relationship="${forStudy.id}"][data-grantee="${stack.cast.pharma.address}"]`,
        )
        .count(),
    ).to.equal(1);
    latest = await stack.provider.getBlockNumber();
    for (let number = stack.deployment.deployedAtBlock ?? 0; number <= latest; number++) {
      const block = await stack.provider.getBlock(number, true);
      for (const tx of block!.prefetchedTransactions) {
        expect(addresses.has(tx.from), `block ${number}: a pseudonym sent ${tx.hash}`).to.equal(false);
        if (tx.to && addresses.has(tx.to)) expect(tx.value, `block ${number}: ether to a pseudonym`).to.equal(0n);
      }
    }
    for (const pseudonym of pseudonyms) {
      expect(await stack.provider.getBalance(pseudonym.address)).to.equal(0n);
      expect(await stack.provider.getTransactionCount(pseudonym.address)).to.equal(0);
    }

    // A phone: nothing overflows, and axe still finds nothing.
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, "no horizontal overflow at 390 px").to.be.at.most(390);
    expect(await axe(page), "axe violations at 390×844").to.deep.equal([]);
    expect(pageErrors).to.deep.equal([]);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("opts all three pseudonyms out of emergency access with one decision, reviewed change by change and relayed; none is funded", async function () {
    const contracts = await connect(stack.provider, stack.deployment);
    for (const pseudonym of pseudonyms)
      expect(await contracts.ledger.emergencyOptedOut(pseudonym.address)).to.equal(false);
    const before = await stack.provider.getBlockNumber();
    const form = page.locator("#pseudonym-emergency-form");
    // All three are ticked by default: one click, one review step listing each pseudonym's change.
    expect(await form.locator('input[name="apply"]:checked').count()).to.equal(3);
    // By default the three messages are spread over up to 15 minutes; the test sends them at once.
    expect(await form.locator("#pseudonym-emergency-form-spread").inputValue()).to.equal(String(15 * 60_000));
    await form.locator("#pseudonym-emergency-form-spread").selectOption("0");
    await form.locator('[data-action="opt-out"]').click();
    const dialog = page.locator('[data-testid="review"]');
    await dialog.waitFor();
    expect(await dialog.getAttribute("data-kind")).to.equal("emergency-opt-out");
    expect(await dialog.locator("#review-title").textContent()).to.include("3 pseudonyms");
    const parts = dialog.locator('[data-testid="review-part"]');
    expect(await parts.count()).to.equal(3);
    const partTexts = await parts.allTextContents();
    for (const [index, label] of ["with hospital", "with university", "study diabetes-2026"].entries())
      expect(partTexts[index]).to.include(label);
    expect(await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")).to.equal("relayer");
    expect(await dialog.locator('[data-testid="review-route"]').textContent()).to.include("relayer");
    expect(await dialog.locator('[data-testid="review-notes"]').textContent()).to.include("timing");
    expect(await axe(page), "axe violations in the review step").to.deep.equal([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "pseudonyms-review-opt-out.png") });
    // Cancel: nothing is sent.
    await dialog.locator('[data-action="cancel"]').click();
    await dialog.waitFor({ state: "detached" });
    expect(await stack.provider.getBlockNumber()).to.equal(before);

    await form.locator('[data-action="opt-out"]').click();
    await dialog.waitFor();
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(
      () =>
        document.getElementById("status")?.dataset.tone === "ok" &&
        /Opted out/.test(document.getElementById("status")?.textContent ?? ""),
      null,
      { timeout: 60_000 },
    );
    for (const pseudonym of pseudonyms)
      expect(await contracts.ledger.emergencyOptedOut(pseudonym.address), pseudonym.id).to.equal(true);
    expect(
      await page
        .locator('[data-testid="pseudonym-setting"]')
        .evaluateAll((items) => items.map((item) => item.getAttribute("data-opted-out"))),
    ).to.deep.equal(["true", "true", "true"]);
    // Asking again changes nothing and says why, next to the choice.
    await form.locator('[data-action="opt-out"]').click();
    expect(await page.locator("#pseudonym-emergency-form-apply-error").textContent()).to.include("already");
    expect(await dialog.count()).to.equal(0);

    // Each opt-out was signed by its pseudonym and sent by the relayer: three transactions, all from it.
    const latest = await stack.provider.getBlockNumber();
    const senders: string[] = [];
    for (let number = before + 1; number <= latest; number++) {
      const block = await stack.provider.getBlock(number, true);
      for (const tx of block!.prefetchedTransactions) senders.push(tx.from);
    }
    expect(senders).to.deep.equal([stack.relayerAccount, stack.relayerAccount, stack.relayerAccount]);
    for (const pseudonym of pseudonyms) {
      expect(await stack.provider.getBalance(pseudonym.address), pseudonym.id).to.equal(0n);
      expect(await stack.provider.getTransactionCount(pseudonym.address), pseudonym.id).to.equal(0);
    }
  });

  it("sets a standing policy on the study pseudonym, appoints a delegate on one pseudonym, and appoints a carer on all three from the carer's offer (a distinct address each), all through the review step and the relayer", async function () {
    const contracts = await connect(stack.provider, stack.deployment);
    const [atHospital, , forStudy] = pseudonyms;
    const dialog = page.locator('[data-testid="review"]');
    const policyForm = page.locator("#pseudonym-policy-form");
    expect(await policyForm.locator("#pseudonym-policy-as option").allTextContents()).to.deep.equal([
      "study diabetes-2026",
    ]);
    // Nothing ticked to release: refused next to the field, nothing sent.
    await policyForm.locator('[data-action="save-policy"]').click();
    expect(await page.locator("#pseudonym-policy-form-dataClass-error").textContent()).to.include("Tick");
    await policyForm.locator('input[name="dataClass"][value="LAB_RESULT"]').check();
    await policyForm.locator("#pseudonym-policy-permission").selectOption("DS");
    await policyForm.locator("#pseudonym-policy-diseaseId").fill("5148");
    await policyForm.locator('[data-action="save-policy"]').click();
    await dialog.waitFor();
    expect(await dialog.getAttribute("data-kind")).to.equal("set-policy");
    expect(await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")).to.equal("relayer");
    expect(await dialog.locator('[data-testid="review-after"]').textContent()).to.include("Lab results");
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(
      () => /policy is saved/.test(document.getElementById("status")?.textContent ?? ""),
      null,
      {
        timeout: 60_000,
      },
    );
    const policy = await policyOf(contracts, forStudy.address);
    expect(policy?.permission).to.equal(Duo.DS);
    expect(policy?.diseaseId).to.equal(5148);
    expect(policy?.dataClasses).to.equal(1 << DataClass.LAB_RESULT);
    for (const other of pseudonyms.slice(0, 2)) expect(await policyOf(contracts, other.address)).to.equal(undefined);
    expect(
      await page
        .locator(
          `[data-testid="pseudonym-setting"][data-relationship="${forStudy.id}"] [data-testid="pseudonym-policy"]`,
        )
        .count(),
    ).to.equal(1);

    // A carer for the hospital pseudonym only.
    const carer = Wallet.createRandom().address;
    const delegateForm = page.locator("#pseudonym-delegate-form");
    await delegateForm.locator("#pseudonym-delegate-as").selectOption(atHospital.address);
    await delegateForm.locator("#pseudonym-delegate-address").fill(forStudy.address);
    await delegateForm.locator("#pseudonym-delegate-until").fill("2099-01-31");
    await delegateForm.locator('[data-action="add-delegate"]').click();
    expect(await page.locator("#pseudonym-delegate-form-delegate-error").textContent()).to.include("link");
    await delegateForm.locator("#pseudonym-delegate-address").fill(carer);
    await delegateForm.locator('[data-action="add-delegate"]').click();
    await dialog.waitFor();
    expect(await dialog.getAttribute("data-kind")).to.equal("appoint-delegate");
    expect(await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")).to.equal("relayer");
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(
      () => /Delegate appointed/.test(document.getElementById("status")?.textContent ?? ""),
      null,
      {
        timeout: 60_000,
      },
    );
    expect((await delegatesOf(contracts, atHospital.address)).map((d) => d.delegate)).to.deep.equal([carer]);
    expect(
      await page
        .locator(
          `[data-testid="pseudonym-setting"][data-relationship="${atHospital.id}"] [data-testid="pseudonym-delegate"]`,
        )
        .getAttribute("data-delegate"),
    ).to.equal(carer);
    for (const pseudonym of pseudonyms) {
      expect(await stack.provider.getBalance(pseudonym.address), pseudonym.id).to.equal(0n);
      expect(await stack.provider.getTransactionCount(pseudonym.address), pseudonym.id).to.equal(0);
    }

    // "Appoint my carer on all my pseudonyms": the carer's app makes an offer, one address of the carer's
    // per pseudonym, each signing its acceptance; the patient uploads it as a JSON file.
    const carerRoot = await derivePseudonymRoot(Wallet.createRandom(), {
      domain: "carer.example",
      chainId: stack.deployment.chainId,
      ledger: stack.deployment.ledger,
    });
    const carerIdentity = new DelegateIdentity(contracts, carerRoot);
    const { payload } = await carerIdentity.createOffer(pseudonyms.map((p) => p.address));
    const carerAccounts = pseudonyms.map((p) => carerIdentity.accountFor(p.address).address);
    expect(new Set(carerAccounts).size).to.equal(3);
    const offerFile = path.join(buildDir as string, "carer-offer.json");
    await writeFile(offerFile, JSON.stringify({ payload }));
    const carerForm = page.locator("#pseudonym-carer-form");
    // A damaged offer is refused next to the field.
    await carerForm.locator("#pseudonym-carer-offer").fill("cldeleg1.not-an-offer");
    await carerForm.locator("#pseudonym-carer-until").fill("2099-06-30");
    await carerForm.locator('[data-action="appoint-carer"]').click();
    expect(await page.locator("#pseudonym-carer-form-offer-error").textContent()).to.include("damaged");
    expect(await dialog.count()).to.equal(0);
    await carerForm.locator("#pseudonym-carer-file").setInputFiles(offerFile);
    await page.waitForFunction(() =>
      (document.getElementById("pseudonym-carer-offer") as HTMLTextAreaElement).value.includes("cldeleg1."),
    );
    expect(await carerForm.locator('input[name="apply"]:checked').count()).to.equal(3);
    await carerForm.locator("#pseudonym-carer-form-spread").selectOption("0");
    const beforeCarer = await stack.provider.getBlockNumber();
    await carerForm.locator('[data-action="appoint-carer"]').click();
    await dialog.waitFor();
    expect(await dialog.getAttribute("data-kind")).to.equal("appoint-delegate");
    const carerParts = await dialog.locator('[data-testid="review-part"]').allTextContents();
    expect(carerParts).to.have.length(3);
    for (const [index, label] of ["with hospital", "with university", "study diabetes-2026"].entries())
      expect(carerParts[index]).to.include(label);
    expect(await dialog.locator('[data-testid="review-notes"]').textContent()).to.include("different address");
    expect(await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")).to.equal("relayer");
    await dialog.locator('[data-action="confirm"]').click();
    await page.waitForFunction(
      () => /carer is appointed on 3 pseudonyms/.test(document.getElementById("status")?.textContent ?? ""),
      null,
      { timeout: 60_000 },
    );
    for (const [index, pseudonym] of pseudonyms.entries()) {
      const appointed = await delegatesOf(contracts, pseudonym.address);
      const delegates = appointed.map((d) => d.delegate);
      expect(delegates, pseudonym.id).to.include(carerAccounts[index]);
      // Until the start of the day chosen, in UTC: a whole day, not an end to the second.
      expect(appointed.find((d) => d.delegate === carerAccounts[index])?.validUntil).to.equal(
        Date.UTC(2099, 5, 30) / 1000,
      );
      for (const other of carerAccounts.filter((_, j) => j !== index))
        expect(delegates, pseudonym.id).to.not.include(other);
      expect(
        await page
          .locator(
            `[data-testid="pseudonym-setting"][data-relationship="${pseudonym.id}"] [data-testid="pseudonym-delegate"][data-delegate="${carerAccounts[index]}"]`,
          )
          .count(),
      ).to.equal(1);
    }
    const carerSenders: string[] = [];
    for (let number = beforeCarer + 1; number <= (await stack.provider.getBlockNumber()); number++) {
      const block = await stack.provider.getBlock(number, true);
      for (const tx of block!.prefetchedTransactions) carerSenders.push(tx.from);
    }
    expect(carerSenders).to.deep.equal([stack.relayerAccount, stack.relayerAccount, stack.relayerAccount]);
    for (const address of [...pseudonyms.map((p) => p.address), ...carerAccounts]) {
      expect(await stack.provider.getBalance(address), address).to.equal(0n);
      expect(await stack.provider.getTransactionCount(address), address).to.equal(0);
    }
    carerRoot.destroy();

    expect(await axe(page), "axe violations").to.deep.equal([]);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth), "no overflow at 390 px").to.be.at.most(390);
    expect(await axe(page), "axe violations at 390×844").to.deep.equal([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "pseudonym-settings-phone.png"), fullPage: true });
    expect(pageErrors).to.deep.equal([]);
  });
});
