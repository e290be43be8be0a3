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
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { HDNodeWallet, Wallet, getAddress, type TypedDataDomain, type TypedDataField } from "ethers";
import { chromium, type BrowserContext, type Page } from "playwright-core";

import { DataClass, Purpose } from "../../sdk/codes";
import { connect, type LedgerContracts } from "../../sdk/chain/connect";
import { ResearcherClient } from "../../sdk/clients/researcher";
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
function injectedWallet(options: { rpcUrl: string; account: string; chainId?: number; rejectSignatures?: boolean }): string {
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
async function keyBackedWallet(target: Page, wallet: Wallet, rpcUrl: string): Promise<{ transactions: string[]; typedData: string[] }> {
  const signed = { transactions: [] as string[], typedData: [] as string[] };
  await target.exposeFunction("__walletSendTransaction", async (json: string) => {
    const tx = JSON.parse(json) as { from?: string; to?: string; data?: string; value?: string; gas?: string };
    if (tx.from && getAddress(tx.from) !== wallet.address) throw new Error(`the page asked ${wallet.address} to send from ${tx.from}`);
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
    const { domain, types, message } = JSON.parse(json) as { domain: TypedDataDomain; types: Record<string, TypedDataField[]>; message: Record<string, unknown> };
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
    target.waitForFunction(() => document.body.dataset.state === "ready" || document.body.dataset.state === "error", null, { timeout: 60_000 });
  const entry = (target: Page, selector: string) => target.locator(`[data-testid="audit-entry"]${selector}`);

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
      viewport: { width: 1440, height: 1000 },
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
        await open.screenshot({ path: path.join(ARTIFACTS, `failed-${this.currentTest.title.replace(/\W+/g, "-")}-${index}.png`), fullPage: true }).catch(() => undefined);
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
    expect(await pending.locator('[data-testid="accreditation"]').textContent()).to.match(/Researcher.*commercial.*accredited, no end date/);
    expect(await pending.textContent()).to.include("HbA1c-outcomes-2026").and.include("3 months from your approval");
    expect(await requests.first().getAttribute("data-researcher")).to.equal(pharma);

    // The university's request was approved by A's policy: its grant is there; A's HbA1c has two versions.
    expect(await page.locator(`[data-testid="grant"][data-grantee="${stack!.cast.university.address}"]`).count()).to.equal(1);
    const hba1c = page.locator(`[data-testid="record"][data-record-id="${stack!.seeded.records["A-hba1c-v2"].recordId}"]`);
    expect(await hba1c.textContent()).to.match(/Lab result.*hospital.*v2.*←.*v1/);
    expect(await page.locator('[data-testid="policy-summary"]').textContent()).to.include("not-for-profit use only (NPU)");
    expect(await page.locator('[data-testid="emergency-state"]').textContent()).to.include("allowed");
    // The university's key release, logged by the real gateway in a batch, read from its manifest.
    expect(await entry(page, `[data-action="key-released"][data-counterparty="${stack!.cast.university.address}"]`).count()).to.equal(1);
    // Newest first, and the release after the consent that allowed it.
    const trail = await page.locator('[data-testid="audit-entry"]').evaluateAll((items) =>
      items.map((item) => ({ action: (item as HTMLElement).dataset.action, time: Number((item as HTMLElement).dataset.time) })),
    );
    expect(trail.map((item) => item.time)).to.deep.equal([...trail.map((item) => item.time)].sort((a, b) => b - a));
    expect(trail.findIndex((item) => item.action === "key-released")).to.be.lessThan(trail.findIndex((item) => item.action === "consent-granted"));
    await shot(page, "01-dashboard");
    await page.screenshot({ path: path.join(ARTIFACTS, "00-dashboard-first-screen.png") });
  });

  it("approves a pending request with one click and shows the grant", async function () {
    const pharma = stack!.cast.pharma.address;
    const requestId = stack!.seeded.requests["pharma→A"];
    await page.locator(`[data-testid="request"][data-request-id="${requestId}"] [data-action="approve"]`).click();
    await page.locator(`[data-testid="grant"][data-grantee="${pharma}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator('[data-testid="status"]').textContent()).to.match(/Approved: pharma may see Lab result until/);
    expect(await page.locator(`[data-testid="request"][data-request-id="${requestId}"]`).count()).to.equal(0);
    expect(await ledger.ledger.hasAccessRightNow(stack!.patient.address, pharma, DataClass.LAB_RESULT, Purpose.HRESCH)).to.equal(true);
    await shot(page, "02-approved");
  });

  it("revokes the grant, and the audit trail shows the approval, the grant and the revocation", async function () {
    const pharma = stack!.cast.pharma.address;
    const requestId = stack!.seeded.requests["pharma→A"];
    await page.locator(`[data-testid="grant"][data-grantee="${pharma}"] [data-action="revoke"]`).click();
    await entry(page, `[data-action="consent-revoked"][data-counterparty="${pharma}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator(`[data-testid="grant"][data-grantee="${pharma}"]`).count()).to.equal(0);
    expect(await ledger.ledger.hasAccessRightNow(stack!.patient.address, pharma, DataClass.LAB_RESULT, Purpose.HRESCH)).to.equal(false);

    expect(await entry(page, `[data-action="request-approved"][data-request-id="${requestId}"][data-basis="patient"]`).count()).to.equal(1);
    expect(await entry(page, `[data-action="consent-granted"][data-counterparty="${pharma}"][data-basis="request"]`).count()).to.equal(1);
    expect(await entry(page, `[data-action="consent-revoked"][data-counterparty="${pharma}"][data-basis="patient"]`).count()).to.equal(1);
    // Newest first: the revocation is above the grant.
    const actions = await page.locator('[data-testid="audit-entry"]').evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.action));
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
    const dialog = page.locator('[data-testid="signed-dialog"]');
    await dialog.waitFor({ timeout: 30_000 });
    const signed = JSON.parse((await dialog.locator('[data-testid="signed-json"]').textContent()) as string);
    expect(signed).to.include({ kind: "deny", chainId: 31337, signer: stack!.patient.address });
    expect(signed.request.researcher).to.equal(stack!.cast.pharma.address);
    await shot(page, "04-signed-denial");

    await dialog.locator('[data-action="relay"]').click();
    await entry(page, `[data-action="request-denied"][data-request-id="${requestId}"][data-basis="signature"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(await page.locator('[data-testid="request"]').count()).to.equal(0);
    expect(await page.locator('[data-testid="status"]').textContent()).to.match(/relayer submitted your signed denial.*you paid no gas/);
    expect(await stack!.provider.getBalance(stack!.patient.address)).to.equal(balanceBefore);
    await page.locator('[data-testid="gasless"]').uncheck();
  });

  it("puts a refusal of the ledger into words: a delegate until a day in the past", async function () {
    const form = page.locator('[data-testid="delegate-form"]');
    await form.locator('input[name="delegate"]').fill(stack!.cast.patientB.address);
    await form.locator('input[name="until"]').fill("2020-01-31");
    await form.locator('[data-action="add-delegate"]').click();
    const alert = page.locator('[data-testid="alert"]');
    await alert.waitFor({ state: "visible", timeout: 30_000 });
    await ready(page);
    expect(await alert.getAttribute("data-kind")).to.equal("revert");
    expect(await alert.textContent()).to.include("Choose an end time in the future and after the start.").and.include("InvalidValidity");
    await shot(page, "05-revert-in-words");
    expect(await page.locator('[data-testid="delegate"]').count()).to.equal(0);
  });

  it("edits the standing policy, appoints and removes a delegate, and opts out of emergency access", async function () {
    const patient = stack!.patient.address;
    const policy = page.locator('[data-testid="policy"]');
    await policy.locator("summary").click();
    expect(await policy.locator('input[name="maxDays"]').isDisabled()).to.equal(true);
    await policy.locator('input[name="modifier"][value="TS"]').check();
    await policy.locator('input[name="maxDays"]').fill("365");
    await policy.locator('[data-action="save-policy"]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="policy-summary"]')?.textContent?.includes("Longest access: 1 year"), null, { timeout: 30_000 });
    await ready(page);
    expect(Number((await ledger.ledger.policyOf(patient)).maxDuration)).to.equal(365 * 86400);

    const delegate = stack!.cast.patientB.address;
    const form = page.locator('[data-testid="delegate-form"]');
    await form.locator('input[name="delegate"]').fill(delegate);
    await form.locator('input[name="until"]').fill("2030-01-31");
    await form.locator('[data-action="add-delegate"]').click();
    await page.locator(`[data-testid="delegate"][data-delegate="${delegate}"]`).waitFor({ timeout: 30_000 });
    await ready(page);
    expect(Number(await ledger.ledger.delegateUntil(patient, delegate))).to.be.greaterThan(0);
    await page.locator('[data-action="emergency-opt-out"]').check();
    await page.waitForFunction(() => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("opted out"), null, { timeout: 30_000 });
    await ready(page);
    expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(true);
    await shot(page, "06-policy-delegate-opt-out");

    await page.locator(`[data-testid="delegate"][data-delegate="${delegate}"] [data-action="remove-delegate"]`).click();
    await page.locator(`[data-testid="delegate"]`).waitFor({ state: "detached", timeout: 30_000 });
    await ready(page);
    await page.locator('[data-action="emergency-opt-out"]').uncheck();
    await page.waitForFunction(() => document.querySelector('[data-testid="emergency-state"]')?.textContent?.includes("allowed"), null, { timeout: 30_000 });
    await ready(page);
    expect(await ledger.ledger.emergencyOptedOut(patient)).to.equal(false);
    for (const action of ["policy-set", "delegate-appointed", "delegate-removed", "emergency-opt-out-set"]) {
      expect(await entry(page, `[data-action="${action}"][data-basis="patient"]`).count(), action).to.be.greaterThan(0);
    }
  });

  it("signs instead of sending for a patient with no ETH, and the relayer submits the revocation", async function () {
    const patientC = stack!.cast.patientC.address;
    const university = stack!.cast.university.address;
    await stack!.provider.send("hardhat_setBalance", [patientC, "0x0"]);
    await page.goto(`${stack!.url}/?account=6`);
    await ready(page);
    expect(await page.locator('[data-testid="gasless"]').isChecked()).to.equal(true);
    expect(await page.locator('[data-testid="status"]').textContent()).to.include("no ETH for gas");
    await page.locator(`[data-testid="grant"][data-grantee="${university}"] [data-action="revoke"]`).click();
    const dialog = page.locator('[data-testid="signed-dialog"]');
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.locator('[data-action="relay"]').click();
    await entry(page, `[data-action="consent-revoked"][data-counterparty="${university}"][data-basis="signature"]`).waitFor({ timeout: 30_000 });
    await ready(page);
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
      expect(await alert.locator(".title").textContent()).to.equal("Your wallet is on chain 1 (Ethereum); switch to chain 31337 (Hardhat local)");
      expect(await alert.locator("button", { hasText: "Switch to chain 31337" }).count()).to.equal(1);
      await shot(other, "08-wrong-network");
    } finally {
      await other.close();
    }
  });

  it("says so when the person rejects the signature in their wallet", async function () {
    const other = await context!.newPage();
    try {
      await other.addInitScript(injectedWallet({ rpcUrl: stack!.rpcUrl, account: stack!.patient.address, rejectSignatures: true }));
      await other.goto(`${stack!.url}/?wallet=injected`);
      await ready(other);
      expect(await other.locator('[data-testid="identity"], #identity').textContent()).to.include("browser wallet");
      await other.locator('[data-testid="gasless"]').check();
      await other.locator(`[data-testid="grant"][data-grantee="${stack!.cast.university.address}"] [data-action="revoke"]`).click();
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
    let signed: { transactions: string[]; typedData: string[] };
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
      patientB = new Wallet(HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/5").privateKey, stack!.provider);
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
      const [tx, receipt] = await Promise.all([stack!.provider.getTransaction(hash), stack!.provider.getTransactionReceipt(hash)]);
      expect(tx?.from).to.equal(patientB.address);
      expect(receipt?.status).to.equal(1);
      return receipt!;
    };

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
      await other.locator(`[data-testid="grant"][data-grantee="${hospital}"]`).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(/Granted until/);
      const receipt = await lastSentByTheKey(sent);
      expect(await entry(other, `[data-action="consent-granted"][data-counterparty="${hospital}"][data-basis="patient"]`).count()).to.equal(1);
      expect(receipt.to).to.equal(stack!.deployment.ledger);
      await shot(other, "10-injected-wallet-grant");
    });

    it("approves one request and denies another, each signed by the wallet's key", async function () {
      const university = stack!.cast.university.address;
      let sent = signed.transactions.length;
      await other.locator(`[data-testid="request"][data-request-id="${requests.university}"] [data-action="approve"]`).click();
      await other.locator(`[data-testid="request"][data-request-id="${requests.university}"]`).waitFor({ state: "detached", timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(/Approved: university may see Condition until/);
      await lastSentByTheKey(sent);
      expect(await entry(other, `[data-action="request-approved"][data-request-id="${requests.university}"][data-basis="patient"]`).count()).to.equal(1);
      expect(await other.locator(`[data-testid="grant"][data-grantee="${university}"]`).count()).to.equal(1);

      sent = signed.transactions.length;
      await other.locator(`[data-testid="request"][data-request-id="${requests.pharma}"] [data-action="deny"]`).click();
      await entry(other, `[data-action="request-denied"][data-request-id="${requests.pharma}"][data-basis="patient"]`).waitFor({ timeout: 30_000 });
      await ready(other);
      expect(await other.locator('[data-testid="status"]').textContent()).to.match(/Denied: pharma's request is closed/);
      await lastSentByTheKey(sent);
      expect(await other.locator('[data-testid="request"]').count()).to.equal(0);
    });

    it("revokes with a transaction the wallet's key signs, and signs a gasless revocation the relayer submits", async function () {
      const [hospital, university] = [stack!.cast.hospital.address, stack!.cast.university.address];
      const sent = signed.transactions.length;
      await other.locator(`[data-testid="grant"][data-grantee="${hospital}"] [data-action="revoke"]`).click();
      await entry(other, `[data-action="consent-revoked"][data-counterparty="${hospital}"][data-basis="patient"]`).waitFor({ timeout: 30_000 });
      await ready(other);
      await lastSentByTheKey(sent);
      expect(await other.locator(`[data-testid="grant"][data-grantee="${hospital}"]`).count()).to.equal(0);

      const typed = signed.typedData.length;
      await other.locator('[data-testid="gasless"]').check();
      await other.locator(`[data-testid="grant"][data-grantee="${university}"] [data-action="revoke"]`).click();
      const dialog = other.locator('[data-testid="signed-dialog"]');
      await dialog.waitFor({ timeout: 30_000 });
      const revocation = JSON.parse((await dialog.locator('[data-testid="signed-json"]').textContent()) as string);
      expect(signed.typedData.slice(typed)).to.deep.equal([revocation.signature]);
      expect(revocation).to.include({ kind: "revoke", signer: patientB.address });
      await dialog.locator('[data-action="relay"]').click();
      await entry(other, `[data-action="consent-revoked"][data-counterparty="${university}"][data-basis="signature"]`).waitFor({ timeout: 30_000 });
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

  it("threw nothing unexpected in the page", function () {
    expect(consoleErrors).to.deep.equal([]);
  });
});
