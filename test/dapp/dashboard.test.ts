/**
 * The patient's consent dashboard (dapp/) end to end, in a real browser: the page built by Vite, served
 * with its API (scripts/lib/dapp-server.ts), against a real `hardhat node` seeded with the demo's story
 * and the real custodian gateway, all on loopback, driven in headless Chromium from Debian's packages
 * (the `chromium` on the PATH, test/helpers/chromium.ts) by playwright-core.
 *
 * Screenshots go to test-artifacts/dapp/ (kept for a person to look at; a failed test adds one of the
 * page as it failed). Without Chromium the suite fails, saying how to install it; it never skips. CI
 * installs it with `apt-get install -y chromium`.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { HDNodeWallet, Wallet, getAddress, type TypedDataDomain, type TypedDataField } from "ethers";
import { chromium, type BrowserContext, type Page } from "playwright-core";

import { DataClass, Purpose } from "../../sdk/codes";
import { connect, type LedgerContracts } from "../../sdk/chain/connect";
import { PatientClient } from "../../sdk/clients/patient";
import { studyIdOf } from "../../sdk/clients/requests";
import { ResearcherClient } from "../../sdk/clients/researcher";
import { CONSENT_TYPES } from "../../sdk/clients/signatures";
import { buildDapp } from "../../scripts/lib/dapp-server";
import { startDappStack, type DappStack } from "../../scripts/lib/dapp-stack";
import { requireChromium } from "../helpers/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Hardhat's default development mnemonic: public test keys, never for real funds. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const ARTIFACTS = path.resolve(__dirname, "..", "..", "test-artifacts", "dapp");

/**
 * An EIP-1193 wallet for the page, injected before it loads: it holds `account`, reports `chainId`
 * (the node's own when undefined), forwards everything else to the node, and refuses to sign typed data
 * when `rejectSignatures` is set (code 4001, as a person pressing "Reject" in MetaMask).
 */
function injectedWallet(options: {
  rpcUrl: string;
  account: string;
  chainId?: number;
  rejectSignatures?: boolean;
  locked?: boolean;
}): string {
  return `(() => {
    const options = ${JSON.stringify(options)};
    let id = 0;
    const rpc = async (method, params) => {
      const response = await fetch(options.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
      const body = await response.json();
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    };
    window.ethereum = {
      isTestWallet: true,
      async request({ method, params }) {
        if ((method === "eth_requestAccounts" || method === "eth_accounts") && options.locked && !window.__unlocked) {
          throw Object.assign(new Error("The requested account has not been authorized by the user."), { code: 4100 });
        }
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [options.account];
        if (method === "eth_chainId" && options.chainId !== undefined) return "0x" + options.chainId.toString(16);
        if (method === "net_version" && options.chainId !== undefined) return String(options.chainId);
        if (method === "eth_signTypedData_v4" && options.rejectSignatures) {
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        return rpc(method, params);
      },
      on() {},
      removeListener() {},
    };
  })();`;
}

/**
 * An EIP-1193 wallet backed by a real key, as a person's wallet is: `wallet` (an ethers Wallet in this
 * process, exposed to the page) signs every transaction and typed-data message itself and sends the
 * transaction raw; reads go to the node. Signing methods never reach the node, so nothing here can be
 * signed by the node's unlocked development accounts. Returns what the key signed.
 */
async function keyBackedWallet(
  target: Page,
  wallet: Wallet,
  rpcUrl: string,
): Promise<{
  transactions: string[];
  typedData: string[];
  messages: { primaryType: string; message: Record<string, unknown> }[];
}> {
  const signed = {
    transactions: [] as string[],
    typedData: [] as string[],
    messages: [] as { primaryType: string; message: Record<string, unknown> }[],
  };
  await target.exposeFunction("__walletSendTransaction", async (json: string) => {
    const tx = JSON.parse(json) as { from?: string; to?: string; data?: string; value?: string; gas?: string };
    if (tx.from && getAddress(tx.from) !== wallet.address)
      throw new Error(`the page asked ${wallet.address} to send from ${tx.from}`);
    const sent = await wallet.sendTransaction({
      to: tx.to,
      data: tx.data,
      value: tx.value ? BigInt(tx.value) : 0n,
      gasLimit: tx.gas ? BigInt(tx.gas) : undefined,
    });
    signed.transactions.push(sent.hash);
    return sent.hash;
  });
  await target.exposeFunction("__walletSignTypedData", async (json: string) => {
    const { domain, types, message, primaryType } = JSON.parse(json) as {
      domain: TypedDataDomain;
      types: Record<string, TypedDataField[]>;
      message: Record<string, unknown>;
      primaryType: string;
    };
    signed.messages.push({ primaryType, message });
    const { EIP712Domain: _, ...rest } = types;
    const signature = await wallet.signTypedData(domain, rest, message);
    signed.typedData.push(signature);
    return signature;
  });
  await target.addInitScript(`(() => {
    const rpcUrl = ${JSON.stringify(rpcUrl)};
    const account = ${JSON.stringify(wallet.address)};
    let id = 0;
    const rpc = async (method, params) => {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
      const body = await response.json();
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    };
    window.ethereum = {
      isTestWallet: true,
      async request({ method, params }) {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
        if (method === "eth_sendTransaction") return window.__walletSendTransaction(JSON.stringify(params[0]));
        if (method === "eth_signTypedData_v4") {
          if (params[0].toLowerCase() !== account.toLowerCase()) throw Object.assign(new Error("unknown account " + params[0]), { code: 4100 });
          return window.__walletSignTypedData(typeof params[1] === "string" ? params[1] : JSON.stringify(params[1]));
        }
        if (/^(eth_sign|personal_sign|eth_signTransaction|eth_signTypedData)/.test(method)) {
          throw Object.assign(new Error("this wallet does not support " + method), { code: 4200 });
        }
        return rpc(method, params);
      },
      on() {},
      removeListener() {},
    };
  })();`);
  return signed;
}

describe("the patient's consent dashboard (dapp/) in Chromium", function () {
  this.timeout(240_000);

  let stack: DappStack | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let buildDir: string | undefined;
  let profileDir: string | undefined;
  let ledger: LedgerContracts;
  const consoleErrors: string[] = [];

  const shot = async (target: Page, name: string) => {
    await target.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const ready = (target: Page) =>
    target.waitForFunction(
      () => document.body.dataset.state === "ready" || document.body.dataset.state === "error",
      null,
      { timeout: 60_000 },
    );
  const entry = (target: Page, selector: string) => target.locator(`[data-testid="audit-entry"]${selector}`);
  /** The review step every consequential action opens first: its words, then Confirm (or Cancel). */
  const reviewStep = async (target: Page, choice: "confirm" | "cancel" = "confirm") => {
    const dialog = target.locator('[data-testid="review"]');
    await dialog.waitFor({ timeout: 30_000 });
    const words = {
      title: (await dialog.locator("h2").textContent()) as string,
      before: (await dialog.locator('[data-testid="review-before"] p').textContent()) as string,
      after: (await dialog.locator('[data-testid="review-after"] p').textContent()) as string,
      all: (await dialog.textContent()) as string,
      /** How the action is sent, as the step says it: relayer, direct, direct-no-signed-form or sign. */
      route: (await dialog.locator('[data-testid="review-route"]').getAttribute("data-route")) as string,
      routeText: (await dialog.locator('[data-testid="review-route"]').textContent()) as string,
    };
    await dialog.locator(`[data-action="${choice}"]`).click();
    await dialog.waitFor({ state: "detached", timeout: 10_000 });
    return words;
  };

  before(async function () {
    const executablePath = requireChromium();
    await mkdir(ARTIFACTS, { recursive: true });
    buildDir = await mkdtemp(path.join(os.tmpdir(), "consent-dapp-build-"));
    await buildDapp(buildDir, { logLevel: "silent" });
    stack = await startDappStack({ page: { dir: buildDir } });
    ledger = await connect(stack.provider, stack.deployment);

    profileDir = await mkdtemp(path.join(os.tmpdir(), "consent-dapp-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
      locale: "en-GB",
      timezoneId: "UTC",
      acceptDownloads: false,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => consoleErrors.push(error.message));
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed" && context) {
      for (const [index, open] of context.pages().entries()) {
        await open
          .screenshot({
            path: path.join(ARTIFACTS, `failed-${this.currentTest.title.replace(/\W+/g, "-")}-${index}.png`),
            fullPage: true,
          })
          .catch(() => undefined);
      }
    }
  });

  after(async function () {
    await context?.close().catch(() => undefined);
    await stack?.close();
    for (const dir of [buildDir, profileDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("opens as patient A on the demo's data: records with their versions, pending requests with accreditation, grants, policy, audit", async function () {
    await page.goto(stack!.pageUrl);
    await ready(page);
    expect(await page.evaluate(() => document.body.dataset.state)).to.equal("ready");
    const pharma = stack!.cast.pharma.address;

    const requests = page.locator('[data-testid="request"]');
    expect(await requests.count()).to.equal(2);
    const pending = page.locator(`[data-testid="request"][data-request-id="${stack!.seeded.requests["pharma→A"]}"]`);
    expect(await pending.textContent()).to.match(/pharma.*asks to see.*Lab result/);
    expect(await pending.locator('[data-testid="accreditation"]').textContent()).to.match(
      /Researcher.*commercial.*accredited, no end date/,
    );
    expect(await pending.textContent())
      .to.include("HbA1c-outcomes-2026")
      .and.include("3 months from your approval");
    expect(await requests.first().getAttribute("data-researcher")).to.equal(pharma);

    // The university's request was approved by A's policy: its grant is there; A's HbA1c has two versions.
    expect(
      await page.locator(`[data-testid="grant"][data-grantee="${stack!.cast.university.address}"]`).count(),
    ).to.equal(1);
    const hba1c = page.locator(
      `[data-testid="record"][data-record-id="${stack!.seeded.records["A-hba1c-v2"].recordId}"]`,
    );
    expect(await hba1c.textContent()).to.match(/Lab result.*hospital.*v2.*←.*v1/);
    expect(await page.locator('[data-testid="policy-summary"]').textContent())
      .to.include("not-for-profit use only")
      .and.include("DUO NPU");
    // Studies by the label their researcher published, checked against the on-chain id; codes behind a toggle.
    expect(await pending.locator('[data-testid="study"]').getAttribute("data-verified")).to.equal("true");
    expect(await pending.locator('[data-testid="study-title"]').textContent()).to.equal(
      "Blood sugar (HbA1c) and long-term outcomes in diabetes",
    );
    expect(await pending.locator('[data-testid="study-title"]').isVisible()).to.equal(true);
    expect(await pending.locator("details.codes code", { hasText: "HRESCH" }).isVisible()).to.equal(false);
    // Audit entries say who was affected and what changed.
    expect(
      await entry(page, `[data-action="consent-granted"][data-counterparty="${stack!.cast.university.address}"]`)
        .first()
        .locator('[data-testid="audit-change"]')
        .textContent(),
    ).to.match(/^Affects university: university cannot see any of your records → university may see /);
    expect(await page.locator('[data-testid="emergency-state"]').textContent()).to.include("allowed");
    // The university's key release, logged by the real gateway in a batch, read from its manifest.
    expect(
      await entry(page, `[data-action="key-released"][data-counterparty="${stack!.cast.university.address}"]`).count(),
    ).to.equal(1);
    // Newest first, and the release after the consent that allowed it.
    const trail = await page.locator('[data-testid="audit-entry"]').evaluateAll((items) =>
      items.map((item) => ({
        action: (item as HTMLElement).dataset.action,
        time: (item as HTMLElement).dataset.time,
      })),
    );
    // The newest entries carry their time (older ones show their block until asked), newest first.
    const times = trail.filter((item) => item.time !== "").map((item) => Number(item.time));
    expect(times.length).to.be.at.least(10);
    expect(
      trail.slice(0, times.length).every((item) => item.time !== ""),
      "the dated entries are the newest",
    ).to.equal(true);
    expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    expect(trail.findIndex((item) => item.action === "key-released")).to.be.lessThan(
      trail.findIndex((item) => item.action === "consent-granted"),
    );
    await shot(page, "01-dashboard");
    await page.screenshot({ path: path.join(ARTIFACTS, "00-dashboard-first-screen.png") });
  });

  it("approves a pending request after a review step that Cancel leaves as it was, and shows the grant", async function () {
    const pharma = stack!.cast.pharma.address;
    const requestId = stack!.seeded.requests["pharma→A"];
    // A relayer is configured, so the page sends signed actions through it unless the patient turns it off.
    expect(await page.locator('[data-testid="via-relayer"]').isChecked()).to.equal(true);
    const [balanceBefore, nonceBefore] = await Promise.all([
      stack!.provider.getBalance(stack!.patient.address),
      stack!.provider.getTransactionCount(stack!.patient.address),
    ]);
    const approve = page.locator(`[data-testid="request"][data-request-id="${requestId}"] [data-action="approve"]`);
    await approve.click();
    const cancelled = await reviewStep(page, "cancel");
    expect(cancelled.title).to.equal("Approve pharma's request");
    expect(cancelled.before).to.include("pharma cannot see any of your records.");
    expect(cancelled.after).to.match(/pharma may see Lab results, for healthcare research, until/);
    expect(cancelled.all).to.include("no later action can recall data already released");
    expect(cancelled.route).to.equal("relayer");
    expect(cancelled.routeText).to.match(/^Gasless, through the relayer: your wallet signs a message/);
    // Cancel: nothing sent, the request still waits, and focus is back on the button the person pressed.
    expect(await page.locator(`[data-testid="request"][data-request-id="${requestId}"]`).count()).to.equal(1);
    expect(await approve.evaluate((button) => button === document.activeElement)).to.equal(true);
    expect(
      await ledger.ledger.hasAccess(stack!.patient.address, pharma, DataClass.LAB_RESULT, Purpose.HRESCH),
    ).to.equal(false);
    await approve.click();
    await reviewStep(page, "confirm");
    await page.locator(`[data-testid="grant"][data-grantee="${pharma}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator('[data-testid="status"]').textContent()).to.match(
      /Approved: pharma may see Lab results until/,
    );
    expect(await page.locator(`[data-testid="request"][data-request-id="${requestId}"]`).count()).to.equal(0);
    expect(
      await ledger.ledger.hasAccess(stack!.patient.address, pharma, DataClass.LAB_RESULT, Purpose.HRESCH),
    ).to.equal(true);
    // The relayer sent it: the patient's account sent nothing and paid nothing.
    expect(await stack!.provider.getBalance(stack!.patient.address)).to.equal(balanceBefore);
    expect(await stack!.provider.getTransactionCount(stack!.patient.address)).to.equal(nonceBefore);
    const block = await stack!.provider.getBlock("latest", true);
    expect(block!.prefetchedTransactions.map((tx) => tx.from)).to.deep.equal([stack!.relayerAccount]);
    await shot(page, "02-approved");
  });

  it("revokes the grant, and the audit trail shows the approval, the grant and the revocation", async function () {
    const pharma = stack!.cast.pharma.address;
    const requestId = stack!.seeded.requests["pharma→A"];
    await page.locator(`[data-testid="grant"][data-grantee="${pharma}"] [data-action="revoke"]`).click();
    const words = await reviewStep(page);
    expect(words.route).to.equal("relayer");
    expect(words.before).to.match(/pharma may see Lab results/);
    expect(words.after).to.include("pharma cannot see any of your records");
    expect(words.all).to.include("Records pharma has already opened stay with them");
    await entry(page, `[data-action="consent-revoked"][data-counterparty="${pharma}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator(`[data-testid="grant"][data-grantee="${pharma}"]`).count()).to.equal(0);
    expect(
      await ledger.ledger.hasAccess(stack!.patient.address, pharma, DataClass.LAB_RESULT, Purpose.HRESCH),
    ).to.equal(false);
    // The Revoke button is gone with the grant: focus goes to its section's heading, not to the top of the page.
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("grants-title");
    expect(
      await entry(page, `[data-action="consent-revoked"][data-counterparty="${pharma}"]`)
        .locator('[data-testid="audit-change"]')
        .textContent(),
    ).to.equal("Affects pharma: access to Lab results ended; data already released stays released.");

    expect(
      await entry(
        page,
        `[data-action="request-approved"][data-request-id="${requestId}"][data-basis="signature"]`,
      ).count(),
    ).to.equal(1);
    expect(
      await entry(page, `[data-action="consent-granted"][data-counterparty="${pharma}"][data-basis="request"]`).count(),
    ).to.equal(1);
    expect(
      await entry(
        page,
        `[data-action="consent-revoked"][data-counterparty="${pharma}"][data-basis="signature"]`,
      ).count(),
    ).to.equal(1);
    // Newest first: the revocation is above the grant.
    const actions = await page
      .locator('[data-testid="audit-entry"]')
      .evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.action));
    expect(actions.indexOf("consent-revoked")).to.be.lessThan(actions.indexOf("consent-granted"));
    await page.locator('[data-testid="audit"]').scrollIntoViewIfNeeded();
    await shot(page, "03-revoked-and-audit");
  });

  it("signs a denial instead of sending it (gasless), and the relayer submits it", async function () {
    const requestId = stack!.seeded.requests["pharma→A trial"];
    await page.locator('[data-testid="gasless"]').check();
    const card = page.locator(`[data-testid="request"][data-request-id="${requestId}"]`);
    expect(await card.locator('[data-action="deny"]').textContent()).to.equal("Sign denial");
    const balanceBefore = await stack!.provider.getBalance(stack!.patient.address);
    await card.locator('[data-action="deny"]').click();
    const denial = await reviewStep(page);
    expect(denial.all).to.include("closed for good");
    expect(denial.route).to.equal("sign");
    const dialog = page.locator('[data-testid="signed-dialog"]');
    await dialog.waitFor({ timeout: 30_000 });
    const signed = JSON.parse((await dialog.locator('[data-testid="signed-json"]').textContent()) as string);
    expect(signed).to.include({ kind: "deny", chainId: 31337, signer: stack!.patient.address });
    expect(signed.request.researcher).to.equal(stack!.cast.pharma.address);
    // What is signed, in words, field by field as the EIP-712 DenyRequest message names them.
    const summary = dialog.locator('[data-testid="signed-summary"]');
    expect(await summary.getAttribute("data-primary-type")).to.equal("DenyRequest");
    expect(await summary.locator('[data-field="requestId"]').getAttribute("data-value")).to.equal(requestId);
    expect(await summary.locator('[data-field="requestId"]').textContent()).to.match(
      /^pharma's request for Vital signs/,
    );
    expect(await summary.locator('[data-field="signer"]').getAttribute("data-value")).to.equal(stack!.patient.address);
    expect(await summary.locator('[data-field="deadline"]').getAttribute("data-value")).to.equal(
      String(signed.deadline),
    );
    expect(await dialog.locator('[data-testid="signed-json"]').isVisible(), "raw JSON only behind a toggle").to.equal(
      false,
    );
    await shot(page, "04-signed-denial");

    await dialog.locator('[data-action="relay"]').click();
    await entry(page, `[data-action="request-denied"][data-request-id="${requestId}"][data-basis="signature"]`).waitFor(
      { timeout: 30_000 },
    );
    await ready(page);
    expect(await page.locator('[data-testid="request"]').count()).to.equal(0);
    expect(await page.locator('[data-testid="status"]').textContent()).to.match(
      /relayer submitted your signed denial.*you paid no gas/,
    );
    expect(await stack!.provider.getBalance(stack!.patient.address)).to.equal(balanceBefore);
    await page.locator('[data-testid="gasless"]').uncheck();
  });

  it("checks a form before sending: the error next to its field, the input kept, focus on the field", async function () {
    const form = page.locator('[data-testid="delegate-form"]');
    await form.locator('input[name="delegate"]').fill(stack!.cast.patientB.address);
    await form.locator('input[name="until"]').fill("2020-01-31");
    await form.locator('[data-action="add-delegate"]').click();
    const error = form.locator('[data-error-for="until"]');
    expect(await error.isVisible()).to.equal(true);
    expect(await error.textContent()).to.match(/^Choose a day after .*: the ledger refuses an end in the past\.$/);
    expect(await form.locator('input[name="until"]').getAttribute("aria-describedby")).to.equal(
      await error.getAttribute("id"),
    );
    expect(await form.locator('input[name="until"]').evaluate((input) => input === document.activeElement)).to.equal(
      true,
    );
    expect(await form.locator('input[name="delegate"]').inputValue()).to.equal(stack!.cast.patientB.address);
    expect(await page.locator('[data-testid="review"]').count(), "nothing to review, nothing sent").to.equal(0);

    await form.locator('input[name="delegate"]').fill("0x1234");
    await form.locator('[data-action="add-delegate"]').click();
    expect(await form.locator('[data-error-for="delegate"]').textContent()).to.include(
      '"0x1234" is not an Ethereum address',
    );
    await shot(page, "05-field-errors");
    expect(await page.locator('[data-testid="delegate"]').count()).to.equal(0);
    await form.locator('input[name="delegate"]').fill("");
    await form.locator('input[name="until"]').fill("");
  });

  it("puts a refusal into words next to its field, keeping the input: a grant to the zero address, which the SDK refuses", async function () {
    // The zero address passes the form's address check; the SDK refuses it before anything is sent.
    await page.locator("summary", { hasText: "Grant access to someone" }).click();
    const form = page.locator(".grant-form");
    await form.locator('input[name="grantee"]').fill("0x0000000000000000000000000000000000000000");
    await form.locator('input[name="dataClass"][value="IMAGING"]').check();
    await form.locator('input[name="purpose"][value="TREAT"]').check();
    await form.locator('input[name="until"]').fill("2031-06-30");
    await form.locator('[data-action="grant"]').click();
    await reviewStep(page);
    const error = form.locator('[data-error-for="grantee"]');
    await error.waitFor({ state: "visible", timeout: 30_000 });
    await ready(page);
    expect(await error.textContent()).to.not.match(/InvalidGrantee\(/);
    expect(await form.locator('input[name="grantee"]').inputValue()).to.equal(
      "0x0000000000000000000000000000000000000000",
    );
    expect(await form.locator('input[name="dataClass"][value="IMAGING"]').isChecked()).to.equal(true);
    expect(await form.locator('input[name="until"]').inputValue()).to.equal("2031-06-30");
    expect(await form.locator('input[name="grantee"]').evaluate((input) => input === document.activeElement)).to.equal(
      true,
    );
    await shot(page, "05-revert-next-to-field");
    await form.locator('input[name="grantee"]').fill("");
    await form.locator('input[name="dataClass"][value="IMAGING"]').uncheck();
    await form.locator('input[name="purpose"][value="TREAT"]').uncheck();
    await form.locator('input[name="until"]').fill("");
    await page.locator("summary", { hasText: "Grant access to someone" }).click();
  });

  it("edits the standing policy, appoints and removes a delegate, and opts out of emergency access", async function () {
    const patient = stack!.patient.address;
    const policy = page.locator('[data-testid="policy"]');
    await policy.locator("summary", { hasText: "Edit the policy" }).click();
    expect(await policy.locator('input[name="maxDays"]').isDisabled()).to.equal(true);
    await policy.locator('input[name="modifier"][value="TS"]').check();
    await policy.locator('input[name="maxDays"]').fill("365");
    await policy.locator('[data-action="save-policy"]').click();
    const policyStep = await reviewStep(page);
    expect(policyStep.after).to.match(/^After: requests for health, medical or biomedical research/);
    // A policy has a signed form (ledger 4.0.0, actBySig): with the relayer on, it goes gasless too.
    expect(policyStep.route).to.equal("relayer");
    expect(policyStep.routeText).to.include("Gasless, through the relayer");
    await page.waitForFunction(
      () => document.querySelector('[data-testid="policy-summary"]')?.textContent?.includes("Longest access: 1 year"),
      null,
      { timeout: 30_000 },
    );
    await ready(page);
    expect(Number((await ledger.ledger.policyOf(patient)).maxDuration)).to.equal(365 * 86400);

    const delegate = stack!.cast.patientB.address;
    const form = page.locator('[data-testid="delegate-form"]');
    await form.locator('input[name="delegate"]').fill(delegate);
    await form.locator('input[name="until"]').fill("2030-01-31");
    await form.locator('[data-action="add-delegate"]').click();
    expect((await reviewStep(page)).after).to.match(/may approve, deny, grant and revoke for you until/);
    await page.locator(`[data-testid="delegate"][data-delegate="${delegate}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(Number(await ledger.ledger.delegateUntil(patient, delegate))).to.be.greaterThan(0);
    // The opt-out's review says what it means for urgent care; Cancel leaves the switch as it was.
    await page.locator('[data-action="emergency-opt-out"]').check();
    const optOut = await reviewStep(page, "cancel");
    expect(optOut.all)
      .to.match(/urgent care.*will not be able to read your records/)
      .and.include("end at once, for good");
    expect(await page.locator('[data-action="emergency-opt-out"]').isChecked()).to.equal(false);
    expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(false);
    await page.locator('[data-action="emergency-opt-out"]').check();
    await reviewStep(page);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("opted out"),
      null,
      { timeout: 30_000 },
    );
    await ready(page);
    expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(true);
    await shot(page, "06-policy-delegate-opt-out");

    await page.locator(`[data-testid="delegate"][data-delegate="${delegate}"] [data-action="remove-delegate"]`).click();
    await reviewStep(page);
    await page.locator(`[data-testid="delegate"]`).waitFor({ state: "detached", timeout: 30_000 });
    await ready(page);
    await page.locator('[data-action="emergency-opt-out"]').uncheck();
    expect((await reviewStep(page)).title).to.equal("Allow emergency access again");
    await page.waitForFunction(
      () => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("allowed"),
      null,
      { timeout: 30_000 },
    );
    await ready(page);
    expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(false);
    for (const action of ["policy-set", "delegate-appointed", "delegate-removed", "emergency-opt-out-set"]) {
      expect(await entry(page, `[data-action="${action}"][data-basis="patient"]`).count(), action).to.be.greaterThan(0);
    }
  });

  it("revokes gasless through the relayer for a patient with no ETH: no transaction, no signature to pass on", async function () {
    const patientC = stack!.cast.patientC.address;
    const university = stack!.cast.university.address;
    await stack!.provider.send("hardhat_setBalance", [patientC, "0x0"]);
    await page.goto(`${stack!.url}/?account=6`);
    await ready(page);
    expect(await page.locator('[data-testid="via-relayer"]').isChecked()).to.equal(true);
    expect(await page.locator('[data-testid="gasless"]').isChecked()).to.equal(false);
    expect(await page.locator('[data-testid="status"]').textContent()).to.include("no ETH for gas");
    await page.locator(`[data-testid="grant"][data-grantee="${university}"] [data-action="revoke"]`).click();
    expect((await reviewStep(page)).route).to.equal("relayer");
    await entry(
      page,
      `[data-action="consent-revoked"][data-counterparty="${university}"][data-basis="signature"]`,
    ).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator('[data-testid="signed-dialog"]').count()).to.equal(0);
    expect(await page.locator(`[data-testid="grant"][data-grantee="${university}"]`).count()).to.equal(0);
    expect(await stack!.provider.getBalance(patientC)).to.equal(0n);
    // Patient C's trail also shows the hospital's emergency opening and the key it released under it.
    expect(await entry(page, '[data-action="emergency-opened"]').count()).to.equal(1);
    expect(await entry(page, '[data-action="key-released"][data-basis="emergency"]').count()).to.equal(1);
    await shot(page, "07-no-eth-relayed-revocation");
  });

  it("tells a wallet on another chain which network to switch to", async function () {
    const other = await context!.newPage();
    try {
      await other.addInitScript(injectedWallet({ rpcUrl: stack!.rpcUrl, account: stack!.patient.address, chainId: 1 }));
      await other.goto(`${stack!.url}/?wallet=injected`);
      await ready(other);
      const alert = other.locator('[data-testid="alert"]');
      expect(await alert.getAttribute("data-kind")).to.equal("network");
      expect(await alert.locator(".title").textContent()).to.equal(
        "Your wallet is on chain 1 (Ethereum); switch to chain 31337 (Hardhat local)",
      );
      expect(await alert.locator("button", { hasText: "Switch to chain 31337" }).count()).to.equal(1);
      await shot(other, "08-wrong-network");
    } finally {
      await other.close();
    }
  });

  it("says so when the person rejects the signature in their wallet", async function () {
    const other = await context!.newPage();
    try {
      await other.addInitScript(
        injectedWallet({ rpcUrl: stack!.rpcUrl, account: stack!.patient.address, rejectSignatures: true }),
      );
      await other.goto(`${stack!.url}/?wallet=injected`);
      await ready(other);
      expect(await other.locator('[data-testid="identity"], #identity').textContent()).to.include("browser wallet");
      await other.locator('[data-testid="gasless"]').check();
      await other
        .locator(`[data-testid="grant"][data-grantee="${stack!.cast.university.address}"] [data-action="revoke"]`)
        .click();
      await reviewStep(other);
      const alert = other.locator('[data-testid="alert"]');
      await alert.waitFor({ state: "visible", timeout: 30_000 });
      await ready(other);
      expect(await alert.getAttribute("data-kind")).to.equal("rejected");
      expect(await alert.locator(".title").textContent()).to.equal("You rejected the signature in your wallet");
      expect(await other.locator('[data-testid="signed-dialog"]').count()).to.equal(0);
      await shot(other, "09-rejected-signature");
    } finally {
      await other.close();
    }
  });

  describe("through an injected EIP-1193 wallet holding patient B's key", function () {
    let other: Page;
    let signed: Awaited<ReturnType<typeof keyBackedWallet>>;
    let patientB: Wallet;
    const requests: Record<string, string> = {};

    before(async function () {
      // Two new requests to patient B, from the researchers (their own accounts, not the page's).
      for (const [label, who, dataClasses] of [
        ["university", stack!.cast.university, ["CONDITION"]],
        ["pharma", stack!.cast.pharma, ["VITAL_SIGNS"]],
      ] as const) {
        const researcher = new ResearcherClient(await connect(who, stack!.deployment), who);
        const { requestId } = await (
          await researcher.requestAccess({
            patient: stack!.cast.patientB.address,
            dataClasses: [...dataClasses],
            purpose: "HRESCH",
            researchCategory: "HMB",
            duration: 30 * 86400,
            studyId: "HbA1c-outcomes-2026",
          })
        ).wait();
        requests[label] = requestId;
      }
      // Hardhat's public development key #5 (patient B): the wallet signs with it, the node is never asked to.
      patientB = new Wallet(
        HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/5").privateKey,
        stack!.provider,
      );
      expect(patientB.address).to.equal(stack!.cast.patientB.address);
      other = await context!.newPage();
      other.on("pageerror", (error) => consoleErrors.push(error.message));
      signed = await keyBackedWallet(other, patientB, stack!.rpcUrl);
      await other.goto(`${stack!.url}/?wallet=injected`);
      await ready(other);
      expect(await other.evaluate(() => document.body.dataset.state)).to.equal("ready");
      expect(await other.locator('[data-testid="identity"], #identity').textContent()).to.include("browser wallet");
    });
    after(async () => other?.close());

    /** The last transaction the key signed was mined, from patient B, successfully. */
    const lastSentByTheKey = async (before: number) => {
      expect(signed.transactions.length, "transactions the injected wallet's key signed").to.equal(before + 1);
      const hash = signed.transactions[before];
      const [tx, receipt] = await Promise.all([
        stack!.provider.getTransaction(hash),
        stack!.provider.getTransactionReceipt(hash),
      ]);
      expect(tx?.from).to.equal(patientB.address);
      expect(receipt?.status).to.equal(1);
      return receipt!;
    };

    it("by default grants and revokes through the relayer: the wallet's key signs messages, never a transaction", async function () {
      const pharma = stack!.cast.pharma.address;
      const [sent, typed] = [signed.transactions.length, signed.typedData.length];
      expect(await other.locator('[data-testid="via-relayer"]').isChecked()).to.equal(true);
      await other.locator("summary", { hasText: "Grant access to someone" }).click();
      const form = other.locator(".grant-form");
      await form.locator('input[name="grantee"]').fill(pharma);
      await form.locator('input[name="dataClass"][value="VITAL_SIGNS"]').check();
      await form.locator('input[name="purpose"][value="TREAT"]').check();
      await form.locator('input[name="until"]').fill("2031-06-30");
      await form.locator('[data-action="grant"]').click();
      expect((await reviewStep(other)).route).to.equal("relayer");
      await entry(
        other,
        `[data-action="consent-granted"][data-counterparty="${pharma}"][data-basis="signature"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      await other.locator(`[data-testid="grant"][data-grantee="${pharma}"] [data-action="revoke"]`).click();
      expect((await reviewStep(other)).route).to.equal("relayer");
      await entry(
        other,
        `[data-action="consent-revoked"][data-counterparty="${pharma}"][data-basis="signature"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(signed.transactions.length, "transactions the wallet's key signed").to.equal(sent);
      expect(signed.messages.slice(typed).map((m) => m.primaryType)).to.deep.equal(["Grant", "Revoke"]);
      // Leave the grant form closed, as the next test expects to open it.
      if (await form.locator('input[name="grantee"]').isVisible())
        await other.locator("summary", { hasText: "Grant access to someone" }).click();

      // The patient turns the relayer off: the review says the next one is a transaction from the account.
      await other.locator('[data-testid="via-relayer"]').uncheck();
      await other.locator(`[data-testid="request"][data-request-id="${requests.pharma}"] [data-action="deny"]`).click();
      const direct = await reviewStep(other, "cancel");
      expect(direct.route).to.equal("direct");
      expect(direct.routeText).to.include("which pays the gas");
    });

    it("grants access with a transaction the wallet's key signs", async function () {
      const sent = signed.transactions.length;
      const hospital = stack!.cast.hospital.address;
      await other.locator("summary", { hasText: "Grant access to someone" }).click();
      const form = other.locator(".grant-form");
      await form.locator('input[name="grantee"]').fill(hospital);
      await form.locator('input[name="dataClass"][value="IMAGING"]').check();
      await form.locator('input[name="purpose"][value="TREAT"]').check();
      await form.locator('input[name="until"]').fill("2031-06-30");
      await form.locator('[data-action="grant"]').click();
      const words = await reviewStep(other);
      expect(words.after).to.match(/hospital may see Imaging \(scans, X-rays\), for treatment, until/);
      await other.locator(`[data-testid="grant"][data-grantee="${hospital}"]`).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(/Granted until/);
      const receipt = await lastSentByTheKey(sent);
      expect(
        await entry(
          other,
          `[data-action="consent-granted"][data-counterparty="${hospital}"][data-basis="patient"]`,
        ).count(),
      ).to.equal(1);
      expect(receipt.to).to.equal(stack!.deployment.ledger);
      await shot(other, "10-injected-wallet-grant");
    });

    it("approves one request and denies another, each signed by the wallet's key", async function () {
      const university = stack!.cast.university.address;
      let sent = signed.transactions.length;
      await other
        .locator(`[data-testid="request"][data-request-id="${requests.university}"] [data-action="approve"]`)
        .click();
      await reviewStep(other);
      await other
        .locator(`[data-testid="request"][data-request-id="${requests.university}"]`)
        .waitFor({ state: "detached", timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(
        /Approved: university may see Conditions \(diagnoses\) until/,
      );
      await lastSentByTheKey(sent);
      expect(
        await entry(
          other,
          `[data-action="request-approved"][data-request-id="${requests.university}"][data-basis="patient"]`,
        ).count(),
      ).to.equal(1);
      expect(await other.locator(`[data-testid="grant"][data-grantee="${university}"]`).count()).to.equal(1);

      sent = signed.transactions.length;
      await other.locator(`[data-testid="request"][data-request-id="${requests.pharma}"] [data-action="deny"]`).click();
      await reviewStep(other);
      await entry(
        other,
        `[data-action="request-denied"][data-request-id="${requests.pharma}"][data-basis="patient"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(
        /Denied: pharma's request is closed/,
      );
      await lastSentByTheKey(sent);
      expect(await other.locator('[data-testid="request"]').count()).to.equal(0);
    });

    // #12, point 2: a signed grant names the consent it replaces, as the patient saw it; the summary shows
    // every field of the EIP-712 Grant, that one in words.
    it("signs a gasless grant whose summary shows every field, the consent it replaces in words", async function () {
      const hospital = stack!.cast.hospital.address;
      const typed = signed.typedData.length;
      await other.locator('[data-testid="gasless"]').check();
      const form = other.locator(".grant-form");
      // The form may still be open from the grant above.
      if (!(await form.locator('input[name="grantee"]').isVisible())) {
        await other.locator("summary", { hasText: "Grant access to someone" }).click();
      }
      await form.locator('input[name="grantee"]').fill(hospital);
      await form.locator('input[name="dataClass"][value="VITAL_SIGNS"]').check();
      await form.locator('input[name="purpose"][value="TREAT"]').check();
      await form.locator('input[name="until"]').fill("2031-06-30");
      await form.locator('[data-action="grant"]').click();
      await reviewStep(other);
      const dialog = other.locator('[data-testid="signed-dialog"]');
      await dialog.waitFor({ timeout: 30_000 });
      expect(signed.typedData.length).to.equal(typed + 1);
      const { primaryType, message } = signed.messages[signed.messages.length - 1];
      expect(primaryType).to.equal("Grant");
      const summary = dialog.locator('[data-testid="signed-summary"]');
      const shown = await summary
        .locator("dd[data-field]")
        .evaluateAll((items) =>
          items.map((item) => [(item as HTMLElement).dataset.field, (item as HTMLElement).dataset.value]),
        );
      expect(Object.fromEntries(shown)).to.deep.equal(
        Object.fromEntries(CONSENT_TYPES.Grant.map(({ name }) => [name, String(message[name])])),
      );
      expect(BigInt(String(message.seenConsent))).to.not.equal(0n);
      expect(await summary.locator('[data-field="seenConsent"]').textContent()).to.match(
        /^hospital's consent: Imaging \(scans, X-rays\) for treatment, until /,
      );
      await dialog.locator('[data-action="relay"]').click();
      await entry(
        other,
        `[data-action="consent-granted"][data-counterparty="${hospital}"][data-basis="signature"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      await other.locator('[data-testid="gasless"]').uncheck();
    });

    it("revokes with a transaction the wallet's key signs, and signs a gasless revocation the relayer submits", async function () {
      const [hospital, university] = [stack!.cast.hospital.address, stack!.cast.university.address];
      const sent = signed.transactions.length;
      await other.locator(`[data-testid="grant"][data-grantee="${hospital}"] [data-action="revoke"]`).click();
      await reviewStep(other);
      await entry(
        other,
        `[data-action="consent-revoked"][data-counterparty="${hospital}"][data-basis="patient"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      await lastSentByTheKey(sent);
      expect(await other.locator(`[data-testid="grant"][data-grantee="${hospital}"]`).count()).to.equal(0);

      const typed = signed.typedData.length;
      await other.locator('[data-testid="gasless"]').check();
      await other.locator(`[data-testid="grant"][data-grantee="${university}"] [data-action="revoke"]`).click();
      await reviewStep(other);
      const dialog = other.locator('[data-testid="signed-dialog"]');
      await dialog.waitFor({ timeout: 30_000 });
      const revocation = JSON.parse((await dialog.locator('[data-testid="signed-json"]').textContent()) as string);
      expect(signed.typedData.slice(typed)).to.deep.equal([revocation.signature]);
      expect(revocation).to.include({ kind: "revoke", signer: patientB.address });
      // The page's summary shows every field of the EIP-712 message the wallet signed, with its value.
      const { primaryType, message } = signed.messages[signed.messages.length - 1];
      const summary = dialog.locator('[data-testid="signed-summary"]');
      expect(await summary.getAttribute("data-primary-type")).to.equal(primaryType);
      const shown = await summary
        .locator("dd[data-field]")
        .evaluateAll((items) =>
          items.map((item) => [(item as HTMLElement).dataset.field, (item as HTMLElement).dataset.value]),
        );
      expect(Object.fromEntries(shown)).to.deep.equal(
        Object.fromEntries(CONSENT_TYPES.Revoke.map(({ name }) => [name, String(message[name])])),
      );
      expect(await summary.locator('[data-field="grantee"]').textContent()).to.match(/^university \(0x/);
      await dialog.locator('[data-action="relay"]').click();
      await entry(
        other,
        `[data-action="consent-revoked"][data-counterparty="${university}"][data-basis="signature"]`,
      ).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(signed.transactions.length, "the relayer sent it, not the wallet").to.equal(sent + 1);
      expect(await other.locator(`[data-testid="grant"][data-grantee="${university}"]`).count()).to.equal(0);
      await other.locator('[data-testid="gasless"]').uncheck();
      await shot(other, "11-injected-wallet-revoked");
    });

    it("threw nothing unexpected in the page", function () {
      expect(consoleErrors).to.deep.equal([]);
    });
  });

  describe("for people on a phone and a desktop", function () {
    const SIZES = [
      { name: "desktop", width: 1280, height: 800 },
      { name: "phone", width: 390, height: 844 },
    ] as const;
    // The docs' screenshots are refreshed on purpose (UPDATE_SCREENSHOTS=1), never as a side effect of a
    // test run: `npm test` leaves the working tree as it found it.
    const DOCS = process.env.UPDATE_SCREENSHOTS ? path.resolve(__dirname, "..", "..", "docs") : ARTIFACTS;
    const AXE = path.resolve(__dirname, "..", "..", "node_modules", "axe-core", "axe.min.js");
    /** WCAG 2.0-2.2 A and AA (contrast, names, labels, target size, ...) plus axe's best practices for tables and landmarks. */
    const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
    let markupStudy: string;

    /** axe-core in the page: the violations of AXE_TAGS, one line each. */
    const audit = async (target: Page, selector?: string) => {
      if (!(await target.evaluate(() => "axe" in window))) await target.addScriptTag({ path: AXE });
      const violations = await target.evaluate(
        async ({ tags, selector }) => {
          const axe = (
            window as unknown as {
              axe: {
                run: (
                  context: unknown,
                  options: unknown,
                ) => Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
              };
            }
          ).axe;
          const result = await axe.run(selector ? document.querySelector(selector) : document, {
            runOnly: { type: "tag", values: tags },
          });
          return result.violations.map(
            (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
          );
        },
        { tags: AXE_TAGS, selector },
      );
      return violations;
    };

    before(async function () {
      // A university request to patient B for mental-health data, whose study label tries markup and
      // script, and a commercial request to patient A for genomic data whose label names another study.
      markupStudy = `mh-markup-${Date.now()}`;
      for (const [who, patient, dataClasses, studyId] of [
        [stack!.cast.university, stack!.cast.patientB.address, ["MENTAL_HEALTH", "LAB_RESULT"], markupStudy],
        [stack!.cast.pharma, stack!.patient.address, ["GENOMIC"], "genomes-unlabelled-2027"],
      ] as const) {
        const researcher = new ResearcherClient(await connect(who, stack!.deployment), who);
        await (
          await researcher.requestAccess({
            patient,
            dataClasses: [...dataClasses],
            purpose: "HRESCH",
            researchCategory: "HMB",
            duration: 30 * 86400,
            studyId,
          })
        ).wait();
      }
      const title = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>${"Mood and sleep ".repeat(20)}`;
      await writeFile(
        path.join(stack!.studiesDir, `${studyIdOf(markupStudy)}.json`),
        JSON.stringify({ study: markupStudy, title }),
      );
      await writeFile(
        path.join(stack!.studiesDir, `${studyIdOf("genomes-unlabelled-2027")}.json`),
        JSON.stringify({ study: "another-study", title: "Trust me" }),
      );
      await mkdir(DOCS, { recursive: true });
    });

    it("flags a sensitive request and shows its study label as the researcher's own words, as text only", async function () {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${stack!.url}/?account=5`);
      await ready(page);
      const card = page.locator(`[data-testid="request"][data-researcher="${stack!.cast.university.address}"]`);
      expect(await card.locator('[data-testid="sensitive"]').textContent()).to.equal("⚠ Sensitive: Mental health");
      const study = card.locator('[data-testid="study"]');
      expect(await study.getAttribute("data-verified")).to.equal("true");
      const title = (await study.locator('[data-testid="study-title"]').textContent()) as string;
      expect(title.startsWith('<img src=x onerror="window.__pwned=1"><script>')).to.equal(true);
      expect([...title].length).to.equal(120);
      expect(await study.textContent()).to.include("in the researcher's own words");
      expect(await study.locator("img, script").count(), "the label is text, not markup").to.equal(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).to.equal(undefined);
      await shot(page, "12-markup-in-a-study-label");
      await page.goto(stack!.pageUrl);
      await ready(page);
      const genomic = page.locator(`[data-testid="request"][data-researcher="${stack!.cast.pharma.address}"]`, {
        hasText: "Genomic data",
      });
      expect(await genomic.locator('[data-testid="sensitive"]').textContent()).to.equal("⚠ Sensitive: Genomic data");
      expect(await genomic.locator('[data-testid="study"]').getAttribute("data-verified")).to.equal("false");
      expect(await genomic.locator('[data-testid="study"]').textContent())
        .to.include("unverified study")
        .and.not.include("Trust me");

      // The review step says it is sensitive; Cancel sends nothing.
      await genomic.locator('[data-action="approve"]').click();
      const dialog = page.locator('[data-testid="review"]');
      await dialog.waitFor();
      expect(await dialog.locator('[data-testid="review-sensitive"]').textContent()).to.include(
        "Sensitive data: Genomic data",
      );
      await shot(page, "12-sensitive-review");
      await reviewStep(page, "cancel");
      expect(await genomic.count()).to.equal(1);
    });

    for (const size of SIZES) {
      it(`at ${size.width}×${size.height} (${size.name}): nothing overflows, tap targets are 24 px or more, axe finds no violation, review step included`, async function () {
        await page.setViewportSize({ width: size.width, height: size.height });
        await page.goto(stack!.pageUrl);
        await ready(page);
        const overflow = await page.evaluate(() => ({
          scrollWidth: (document.scrollingElement as Element).scrollWidth,
          innerWidth: window.innerWidth,
        }));
        expect(overflow.scrollWidth, "no horizontal overflow").to.be.at.most(overflow.innerWidth);
        const small = await page.evaluate(() =>
          Array.from(
            document.querySelectorAll<HTMLElement>(
              'button, summary, select, input[type="checkbox"], input:not([type="checkbox"])',
            ),
          )
            .filter((element) => element.getClientRects().length > 0 && element.offsetParent !== null)
            .map((element) => ({ element, box: element.getBoundingClientRect() }))
            .filter(({ box }) => box.width < 24 || box.height < 24)
            .map(
              ({ element, box }) =>
                `${element.tagName.toLowerCase()} "${(element.textContent ?? "").trim().slice(0, 30)}" ${box.width.toFixed(0)}×${box.height.toFixed(0)}`,
            ),
        );
        expect(small, "tap targets under 24 px").to.deep.equal([]);
        // Tables: labelled columns on a desktop, cards (each cell named by its column) on a phone.
        const grantsTable = page.locator('[data-testid="grants"] table');
        expect(await grantsTable.locator('th[scope="col"]').count()).to.equal(5);
        const display = await grantsTable
          .locator("tbody tr")
          .first()
          .evaluate((row) => getComputedStyle(row).display);
        expect(display).to.equal(size.name === "phone" ? "block" : "table-row");
        expect(await audit(page)).to.deep.equal([]);
        await page.screenshot({ path: path.join(DOCS, `dashboard-${size.name}.png`) });

        const revoke = page.locator('[data-testid="grant"] [data-action="revoke"]').first();
        await revoke.scrollIntoViewIfNeeded();
        await revoke.click();
        await page.locator('[data-testid="review"]').waitFor();
        const dialogOverflow = await page.evaluate(() => ({
          scrollWidth: (document.scrollingElement as Element).scrollWidth,
          innerWidth: window.innerWidth,
        }));
        expect(dialogOverflow.scrollWidth).to.be.at.most(dialogOverflow.innerWidth);
        expect(await audit(page, '[data-testid="review"]')).to.deep.equal([]);
        await page.screenshot({ path: path.join(DOCS, `dashboard-review-${size.name}.png`) });
        await reviewStep(page, "cancel");
        expect(await revoke.evaluate((button) => button === document.activeElement), "focus back on Revoke").to.equal(
          true,
        );

        // Every other review step at this size: it fits the screen, passes axe, and Cancel sends nothing.
        const before = await stack!.provider.getBlockNumber();
        const openReview = async (label: string, open: () => Promise<void>) => {
          await open();
          const dialog = page.locator('[data-testid="review"]');
          await dialog.waitFor({ timeout: 10_000 });
          const box = (await dialog.boundingBox())!;
          expect(box.x, `${label}: inside the screen`).to.be.at.least(0);
          expect(box.x + box.width, `${label}: inside the screen`).to.be.at.most(size.width);
          expect(await page.evaluate(() => (document.scrollingElement as Element).scrollWidth), label).to.be.at.most(
            size.width,
          );
          expect(await audit(page, '[data-testid="review"]'), label).to.deep.equal([]);
          await reviewStep(page, "cancel");
        };
        await openReview("approve", () =>
          page.locator('[data-testid="request"] [data-action="approve"]').first().click(),
        );
        await openReview("deny", () => page.locator('[data-testid="request"] [data-action="deny"]').first().click());
        await openReview("opt-out", () => page.locator('[data-action="emergency-opt-out"]').check());
        expect(await page.locator('[data-action="emergency-opt-out"]').isChecked()).to.equal(false);
        await openReview("delegate", async () => {
          const form = page.locator('[data-testid="delegate-form"]');
          await form.locator('input[name="delegate"]').fill(stack!.cast.patientC.address);
          await form.locator('input[name="until"]').fill("2031-01-31");
          await form.locator('[data-action="add-delegate"]').click();
        });
        await openReview("grant", async () => {
          await page.locator("summary", { hasText: "Grant access to someone" }).click();
          const form = page.locator(".grant-form");
          await form.locator('input[name="grantee"]').fill(stack!.cast.hospital.address);
          await form.locator('input[name="dataClass"][value="SUBSTANCE_USE"]').check();
          await form.locator('input[name="purpose"][value="TREAT"]').check();
          await form.locator('input[name="until"]').fill("2031-06-30");
          await form.locator('[data-action="grant"]').click();
        });
        await openReview("policy", async () => {
          await page.locator('[data-testid="policy"] summary', { hasText: "Edit the policy" }).click();
          await page.locator('[data-action="save-policy"]').click();
        });
        await openReview("clear policy", () => page.locator('[data-action="clear-policy"]').click());
        // Cancelled, all of it: no block was mined, and the forms still hold what was typed.
        expect(await stack!.provider.getBlockNumber()).to.equal(before);
        expect(await page.locator('.grant-form input[name="grantee"]').inputValue()).to.equal(
          stack!.cast.hospital.address,
        );
        expect(await page.locator('[data-testid="delegate-form"] input[name="delegate"]').inputValue()).to.equal(
          stack!.cast.patientC.address,
        );
      });
    }

    it("at 390×844 (phone): a failed form keeps its input with the error under the field; approves, revokes, grants and opts out through the review step, nothing overflowing after each", async function () {
      const patient = stack!.patient.address;
      // A second pending request, so one is still waiting after this test approves the first.
      const researcherClient = new ResearcherClient(
        await connect(stack!.cast.pharma, stack!.deployment),
        stack!.cast.pharma,
      );
      await (
        await researcherClient.requestAccess({
          patient,
          dataClasses: ["LAB_RESULT"],
          purpose: "HRESCH",
          researchCategory: "HMB",
          duration: 30 * 86400,
          studyId: "phone-walk-2026",
        })
      ).wait();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(stack!.pageUrl);
      await ready(page);
      const fits = async (label: string) => {
        const width = await page.evaluate(() => (document.scrollingElement as Element).scrollWidth);
        expect(width, `${label}: no horizontal overflow`).to.be.at.most(390);
      };
      /** Opens the review step, checks it fits, confirms, and waits for what the action changes. */
      const act = async (label: string, open: () => Promise<void>, done: () => Promise<unknown>) => {
        await open();
        const dialog = page.locator('[data-testid="review"]');
        await dialog.waitFor({ timeout: 10_000 });
        const box = (await dialog.boundingBox())!;
        expect(box.x + box.width, `${label}: the review step inside the screen`).to.be.at.most(390);
        await fits(`${label} (review)`);
        await reviewStep(page, "confirm");
        await done();
        await ready(page);
        await fits(label);
      };

      // A form that fails its check at this size: the error under its field, on screen, the input kept.
      const delegateForm = page.locator('[data-testid="delegate-form"]');
      await delegateForm.locator('input[name="delegate"]').fill(stack!.cast.patientB.address);
      await delegateForm.locator('input[name="until"]').fill("2020-01-31");
      await delegateForm.locator('[data-action="add-delegate"]').click();
      const fieldError = delegateForm.locator('[data-error-for="until"]');
      expect(await fieldError.isVisible()).to.equal(true);
      const inputBox = (await delegateForm.locator('input[name="until"]').boundingBox())!;
      const errorBox = (await fieldError.boundingBox())!;
      expect(errorBox.y - (inputBox.y + inputBox.height), "the error right under its field").to.be.within(0, 40);
      expect(errorBox.x + errorBox.width, "the error inside the screen").to.be.at.most(390);
      expect(
        await delegateForm.locator('input[name="until"]').evaluate((input) => input === document.activeElement),
      ).to.equal(true);
      expect(await delegateForm.locator('input[name="delegate"]').inputValue()).to.equal(stack!.cast.patientB.address);
      expect(await page.locator('[data-testid="review"]').count(), "nothing to review, nothing sent").to.equal(0);
      await fits("failed form");
      await delegateForm.locator('input[name="delegate"]').fill("");
      await delegateForm.locator('input[name="until"]').fill("");

      const request = page.locator('[data-testid="request"]').first();
      const requestId = (await request.getAttribute("data-request-id")) as string;
      const researcher = (await request.getAttribute("data-researcher")) as string;
      await act(
        "approve",
        () => request.locator('[data-action="approve"]').click(),
        () =>
          entry(page, `[data-action="request-approved"][data-request-id="${requestId}"]`).waitFor({ timeout: 30_000 }),
      );
      expect(Number((await ledger.ledger.consentOf(patient, researcher)).dataClasses)).to.be.greaterThan(0);
      await act(
        "revoke",
        () => page.locator(`[data-testid="grant"][data-grantee="${researcher}"] [data-action="revoke"]`).click(),
        () =>
          page
            .locator(`[data-testid="grant"][data-grantee="${researcher}"]`)
            .waitFor({ state: "detached", timeout: 30_000 }),
      );
      expect(Number((await ledger.ledger.consentOf(patient, researcher)).dataClasses)).to.equal(0);
      const grantee = stack!.cast.hospital.address;
      await act(
        "grant",
        async () => {
          const summary = page.locator("summary", { hasText: "Grant access to someone" });
          if (!(await page.locator(".grant-form").isVisible())) await summary.click();
          const form = page.locator(".grant-form");
          await form.locator('input[name="grantee"]').fill(grantee);
          await form.locator('input[name="dataClass"][value="IMAGING"]').check();
          await form.locator('input[name="purpose"][value="TREAT"]').check();
          await form.locator('input[name="until"]').fill("2031-03-31");
          await form.locator('[data-action="grant"]').click();
        },
        () => page.locator(`[data-testid="grant"][data-grantee="${grantee}"]`).waitFor({ timeout: 30_000 }),
      );
      expect(Number((await ledger.ledger.consentOf(patient, grantee)).dataClasses)).to.be.greaterThan(0);
      await act(
        "opt-out",
        () => page.locator('[data-action="emergency-opt-out"]').check(),
        () =>
          page.waitForFunction(
            () => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("opted out"),
            null,
            { timeout: 30_000 },
          ),
      );
      expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(true);
      await act(
        "opt back in",
        () => page.locator('[data-action="emergency-opt-out"]').uncheck(),
        () =>
          page.waitForFunction(
            () => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("allowed"),
            null,
            { timeout: 30_000 },
          ),
      );
      expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(false);
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    for (const size of SIZES) {
      it(`at ${size.width}×${size.height} (${size.name}): control edges and the focus ring contrast 3:1 with what is next to them (WCAG 2.2 1.4.11)`, async function () {
        await page.setViewportSize({ width: size.width, height: size.height });
        await page.goto(stack!.pageUrl);
        await ready(page);
        // Open what is folded, so its controls are checked too.
        await page.evaluate(() => document.querySelectorAll("details").forEach((details) => (details.open = true)));
        const failures = await page.evaluate(() => {
          type Rgba = [number, number, number, number];
          const parse = (color: string): Rgba => {
            const parts = color.match(/[\d.]+/g)?.map(Number) ?? [0, 0, 0, 0];
            return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
          };
          const over = (top: Rgba, bottom: Rgba): Rgba => {
            const a = top[3];
            return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1) as Rgba;
          };
          /** The colour actually behind `element`: its ancestors' backgrounds composited, white at the root. */
          const backdrop = (element: Element | null): Rgba => {
            const layers: Rgba[] = [];
            for (let node = element; node; node = node.parentElement) {
              const style = getComputedStyle(node);
              const color = parse(style.backgroundColor);
              const dim = Number(style.opacity);
              if (color[3] > 0) layers.push([color[0], color[1], color[2], color[3] * dim]);
              if (color[3] * dim >= 1) break;
            }
            return layers.reduceRight((bottom, top) => over(top, bottom), [255, 255, 255, 1] as Rgba);
          };
          const luminance = (color: Rgba) => {
            const channel = (value: number) => {
              const v = value / 255;
              return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * channel(color[0]) + 0.7152 * channel(color[1]) + 0.0722 * channel(color[2]);
          };
          const contrast = (a: Rgba, b: Rgba) => {
            const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
            return (light + 0.05) / (dark + 0.05);
          };
          const name = (element: Element) => {
            const el = element as HTMLElement;
            const text = (el.getAttribute("aria-label") ?? el.textContent ?? (el as HTMLInputElement).name ?? "")
              .trim()
              .slice(0, 30);
            return `${el.tagName.toLowerCase()}${el.dataset.action ? `[data-action=${el.dataset.action}]` : ""}${(el as HTMLInputElement).name ? `[name=${(el as HTMLInputElement).name}]` : ""} "${text}"`;
          };
          const failures: string[] = [];
          const controls = Array.from(
            document.querySelectorAll<HTMLElement>("input, select, button, summary, textarea"),
          ).filter(
            (element) =>
              element.getClientRects().length > 0 &&
              element.offsetParent !== null &&
              !(element as HTMLButtonElement).disabled,
          );
          for (const element of controls) {
            const style = getComputedStyle(element);
            const behind = backdrop(element.parentElement);
            const own = parse(style.backgroundColor);
            const fill = own[3] > 0 ? over(own, behind) : behind;
            const bordered = style.borderTopStyle !== "none" && parseFloat(style.borderTopWidth) > 0;
            const checkbox =
              element instanceof HTMLInputElement && (element.type === "checkbox" || element.type === "radio");
            let edge: number;
            let what: string;
            if (checkbox) {
              // Drawn by the browser in its accent colour when ticked, with a grey edge: check the accent.
              edge = contrast(parse(style.accentColor), behind);
              what = "accent colour";
            } else if (bordered) {
              // The control is told apart by its border, or by its own fill when that differs enough.
              edge = Math.max(contrast(over(parse(style.borderTopColor), behind), behind), contrast(fill, behind));
              what = "border";
            } else if (own[3] > 0) {
              edge = contrast(fill, behind);
              what = "fill";
            } else {
              // A text-only control (a link-style button, a disclosure): its text is what shows it.
              edge = contrast(parse(style.color), behind);
              what = "text";
            }
            if (edge < 3) failures.push(`${name(element)}: ${what} ${edge.toFixed(2)}:1`);

            // The focus ring, as the keyboard shows it.
            element.focus({ focusVisible: true } as FocusOptions);
            if (document.activeElement !== element) continue;
            const focused = getComputedStyle(element);
            const ring = focused.outlineStyle !== "none" && parseFloat(focused.outlineWidth) >= 2;
            if (!element.matches(":focus-visible"))
              failures.push(`${name(element)}: no :focus-visible when focused from the keyboard`);
            else if (!ring)
              failures.push(
                `${name(element)}: no focus ring (outline ${focused.outlineStyle} ${focused.outlineWidth})`,
              );
            else {
              const ringContrast = contrast(over(parse(focused.outlineColor), behind), behind);
              if (ringContrast < 3) failures.push(`${name(element)}: focus ring ${ringContrast.toFixed(2)}:1`);
            }
            element.blur();
          }
          return { failures, checked: controls.length };
        });
        expect(failures.checked, "controls checked").to.be.greaterThan(40);
        expect(failures.failures, "controls under 3:1").to.deep.equal([]);
      });
    }

    it("says the wallet could not act, with a Retry that connects once it is unlocked", async function () {
      const other = await context!.newPage();
      try {
        await other.addInitScript(
          injectedWallet({ rpcUrl: stack!.rpcUrl, account: stack!.patient.address, locked: true }),
        );
        await other.goto(`${stack!.url}/?wallet=injected`);
        await ready(other);
        const alert = other.locator('[data-testid="alert"]');
        expect(await alert.getAttribute("data-kind")).to.equal("wallet");
        expect(await alert.textContent()).to.include("unlock it");
        await other.evaluate(() => ((window as unknown as { __unlocked: boolean }).__unlocked = true));
        await alert.locator('[data-action="retry"]').click();
        await other.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 60_000 });
        expect(await other.locator("#identity").textContent()).to.include("browser wallet");
      } finally {
        await other.close();
      }
    });

    it("says the gateway did not answer, keeps the rest of the page, and Retry shows the batched key releases", async function () {
      const other = await context!.newPage();
      try {
        let down = true;
        await other.route("**/gateway/manifests/**", (route) =>
          down ? route.abort("connectionrefused") : route.continue(),
        );
        await other.goto(stack!.pageUrl);
        await ready(other);
        const warning = other.locator('[data-testid="audit-warning"]');
        expect(await warning.textContent()).to.include("The custodian's gateway did not answer");
        expect(await entry(other, '[data-action="key-released"]').count()).to.equal(0);
        expect(await other.locator('[data-testid="grant"]').count()).to.be.greaterThan(0);
        down = false;
        await warning.locator('[data-action="retry-gateway"]').click();
        await warning.waitFor({ state: "detached", timeout: 60_000 });
        await ready(other);
        expect(await entry(other, '[data-action="key-released"]').count()).to.be.greaterThan(0);
      } finally {
        await other.close();
      }
    });

    for (const size of SIZES) {
      it(`at ${size.width}×${size.height} (${size.name}): says the node did not answer, with a Retry that loads the page once it is back`, async function () {
        const other = await context!.newPage();
        await other.setViewportSize({ width: size.width, height: size.height });
        try {
          let down = true;
          await other.route(
            (url) => url.href.startsWith(stack!.rpcUrl),
            (route) => (down ? route.abort("connectionrefused") : route.continue()),
          );
          await other.goto(stack!.pageUrl);
          await ready(other);
          const alert = other.locator('[data-testid="alert"]');
          expect(await alert.getAttribute("data-kind")).to.equal("node");
          expect(await alert.locator(".title").textContent()).to.equal("The ledger's node did not answer");
          expect(await alert.locator('[data-action="retry"]').isVisible()).to.equal(true);
          expect(
            await other.evaluate(() => (document.scrollingElement as Element).scrollWidth),
            "no horizontal overflow",
          ).to.be.at.most(size.width);
          await shot(other, `13-node-down-${size.name}`);
          down = false;
          await alert.locator('[data-action="retry"]').click();
          await other.waitForFunction(() => document.body.dataset.state === "ready", null, { timeout: 60_000 });
          expect(await other.locator('[data-testid="request"]').count()).to.be.greaterThan(0);
          expect(await alert.isHidden()).to.equal(true);

          // The node fails during an action: the error says so, Retry sends it once the node is back.
          down = true;
          const grant = other.locator('[data-testid="grant"] [data-action="revoke"]').first();
          const grantee = (await other.locator('[data-testid="grant"]').first().getAttribute("data-grantee")) as string;
          await grant.click();
          await reviewStep(other);
          await alert.waitFor({ state: "visible", timeout: 60_000 });
          expect(await alert.getAttribute("data-kind")).to.equal("node");
          down = false;
          await alert.locator('[data-action="retry"]').click();
          await entry(other, `[data-action="consent-revoked"][data-counterparty="${grantee}"]`).waitFor({
            timeout: 60_000,
          });
          expect(Number((await ledger.ledger.consentOf(stack!.patient.address, grantee)).dataClasses)).to.equal(0);
        } finally {
          await other.close();
        }
      });
    }

    it("loads for a fixed number of JSON-RPC calls and log queries, the same after the patient's history grows by 6 and 30 events, over a slow connection", async function () {
      this.timeout(300_000);
      const DELAY_MS = 200;
      /**
       * Whatever the history: the wallet's three checks (chain id, accounts, the ledger's code), the block
       * number, five log queries, one eth_call for the state, and the blocks and senders of the newest 10
       * audit entries and the blocks of the newest 6 records (dapp/src/data.ts AUDIT_DETAILS, RECORD_TIMES).
       */
      const CALLS = 3 + 1 + 5 + 1 + 2 * 10 + 6;
      const LOG_QUERIES = 5;
      const ROUND_TRIPS = 8;
      type Calls = { requests: number; rpc: number; logs: number; methods: Map<string, number> };
      const counting = async (target: Page) => {
        const calls: Calls = { requests: 0, rpc: 0, logs: 0, methods: new Map<string, number>() };
        await target.route(
          (url) => url.href.startsWith(stack!.rpcUrl),
          async (route) => {
            const body = JSON.parse(route.request().postData() ?? "{}") as { method: string } | { method: string }[];
            calls.requests += 1;
            for (const call of Array.isArray(body) ? body : [body]) {
              calls.rpc += 1;
              if (call.method === "eth_getLogs") calls.logs += 1;
              calls.methods.set(call.method, (calls.methods.get(call.method) ?? 0) + 1);
            }
            await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
            await route.continue();
          },
        );
        return calls;
      };
      const summary = (calls: Calls, ms: number) => ({
        requests: calls.requests,
        rpc: calls.rpc,
        logs: calls.logs,
        ms,
        methods: Object.fromEntries(calls.methods),
      });
      const measure = async () => {
        const other = await context!.newPage();
        try {
          const calls = await counting(other);
          const started = Date.now();
          await other.goto(stack!.pageUrl);
          await ready(other);
          const load = summary(calls, Date.now() - started);
          expect(await other.evaluate(() => document.body.dataset.state)).to.equal("ready");
          const entries = await entry(other, "").count();
          // The older entries' times, on request: block reads only, no log query (the logs are cached by block).
          const more = other.locator('[data-action="audit-details"]');
          let details: ReturnType<typeof summary> | undefined;
          if (await more.count()) {
            calls.requests = calls.rpc = calls.logs = 0;
            calls.methods.clear();
            const started = Date.now();
            await more.click();
            await other.waitForFunction(
              () => !document.querySelector('[data-action="audit-details"]') && document.body.dataset.state === "ready",
              null,
              { timeout: 120_000 },
            );
            details = summary(calls, Date.now() - started);
            expect(
              await other.locator('[data-testid="audit-entry"][data-time=""]').count(),
              "every entry has its time",
            ).to.equal(0);
          }
          return { ...load, entries, details };
        } finally {
          await other.close();
        }
      };
      const patientA = new PatientClient(await connect(stack!.cast.patientA, stack!.deployment), stack!.cast.patientA);
      /** More history for patient A: `count` events, grants and revocations, each in its own block. */
      const grow = async (count: number) => {
        const now = (await stack!.provider.getBlock("latest"))!.timestamp;
        for (let index = 0; index < count / 2; index++) {
          const grantee = Wallet.createRandom().address;
          await (
            await patientA.grant({
              grantee,
              dataClasses: ["VITAL_SIGNS"],
              purposes: ["TREAT"],
              validUntil: now + 86400 * 30,
            })
          ).wait();
          await (await patientA.revoke(grantee)).wait();
        }
      };
      const loads = [await measure()];
      await grow(6);
      loads.push(await measure());
      await grow(30);
      loads.push(await measure());
      for (const [index, load] of loads.entries()) {
        console.log(
          `      load ${index + 1} (${load.entries} audit entries) over a ${DELAY_MS} ms connection: ${JSON.stringify({ ...load, details: undefined })}`,
        );
        if (load.details) console.log(`        then every older entry's time: ${JSON.stringify(load.details)}`);
      }
      expect(loads[2].entries - loads[0].entries).to.equal(36);
      for (const [index, load] of loads.entries()) {
        expect(load.rpc, `JSON-RPC calls in load ${index + 1}`).to.be.at.most(CALLS);
        expect(load.logs, `eth_getLogs in load ${index + 1}`).to.be.at.most(LOG_QUERIES);
        expect(load.requests, `round trips in load ${index + 1}`).to.be.at.most(ROUND_TRIPS);
        expect(load.ms, `ms per load with ${DELAY_MS} ms per round trip`).to.be.below(
          (ROUND_TRIPS + 2) * DELAY_MS + 2_000,
        );
        expect(load.details?.logs ?? 0, "no log query again at the same block").to.equal(0);
      }
    });

    it("puts a refusal of the ledger under the field it concerns: an end day the chain's clock passed after the page loaded", async function () {
      // Runs last: it moves the chain's clock three days on, twice.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(stack!.pageUrl);
      await ready(page);
      const form = page.locator(".grant-form");
      const error = form.locator('[data-error-for="until"]');
      /** Fills the grant form with an end day tomorrow by the chain's clock, then moves the clock past it. */
      const staleGrant = async () => {
        const chainNow = (await stack!.provider.getBlock("latest"))!.timestamp;
        const tomorrow = new Date((chainNow + 86400) * 1000).toISOString().slice(0, 10);
        if (!(await form.locator('input[name="grantee"]').isVisible()))
          await page.locator("summary", { hasText: "Grant access to someone" }).click();
        await form.locator('input[name="grantee"]').fill(stack!.cast.hospital.address);
        await form.locator('input[name="dataClass"][value="ALLERGY"]').check();
        await form.locator('input[name="purpose"][value="TREAT"]').check();
        await form.locator('input[name="until"]').fill(tomorrow);
        await stack!.provider.send("evm_increaseTime", [3 * 86400]);
        await stack!.provider.send("evm_mine", []);
        return tomorrow;
      };

      // Through the relayer (the default): its own check refuses the end day before anything is sent.
      await staleGrant();
      await form.locator('[data-action="grant"]').click();
      expect((await reviewStep(page)).route).to.equal("relayer");
      await error.waitFor({ state: "visible", timeout: 30_000 });
      await ready(page);
      expect(await error.textContent())
        .to.include("Choose an end time in the future and after the start, far enough ahead for the relayer")
        .and.not.include("ValidityTooShort");
      expect(await page.locator('[data-testid="alert"]').isHidden()).to.equal(true);

      // Sent directly, the ledger itself refuses it (InvalidValidity), and the words go under the same field.
      await page.locator('[data-testid="via-relayer"]').uncheck();
      const tomorrow = await staleGrant();
      await form.locator('[data-action="grant"]').click();
      expect((await reviewStep(page)).route).to.equal("direct");
      await page.waitForFunction(
        () =>
          /^Choose an end time in the future and after the start\.(?!.*relayer)/.test(
            document.querySelector('.grant-form [data-error-for="until"]')?.textContent ?? "",
          ),
        null,
        { timeout: 30_000 },
      );
      await ready(page);
      expect(await error.textContent())
        .to.include("Choose an end time in the future and after the start.")
        .and.not.include("InvalidValidity(");
      expect(await form.locator('input[name="until"]').inputValue()).to.equal(tomorrow);
      expect(await form.locator('input[name="grantee"]').inputValue()).to.equal(stack!.cast.hospital.address);
      expect(
        await page.locator('[data-testid="alert"]').isHidden(),
        "under the field, not in the alert at the top",
      ).to.equal(true);
      await shot(page, "14-revert-under-its-field");
    });
  });

  it("threw nothing unexpected in the page", function () {
    expect(consoleErrors).to.deep.equal([]);
  });
});
