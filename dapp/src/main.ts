/**
 * The patient's consent dashboard: connects a wallet (or a local development account), finds the suite
 * by chain id, and lets the patient decide requests, revoke, set a standing policy, appoint delegates,
 * opt out of emergency access, read the audit trail, and sign instead of sending when they have no gas.
 * Every on-chain step goes through the SDK ("consent-ledger").
 */
import "./style.css";

import {
  auditTrailToFhirBundle,
  consentToFhir,
  fhirCollection,
  PatientClient,
  studyIdOf,
  type Consent,
  type GrantInput,
  type LedgerContracts,
  type PendingTransaction,
  type PolicyInput,
  type SignedConsent,
} from "consent-ledger";
import { formatEther } from "ethers";

import { loadConfig, type DappConfig } from "./config";
import { loadDashboard, type DashboardData, type PendingRequest } from "./data";
import { download, h, mount } from "./dom";
import { explain, type Doing, type Explanation } from "./errors";
import { chainText, dataClassList, dateTime, day, shortAddress } from "./format";
import { openLedger } from "./ledger";
import { GatewayManifestStore } from "./manifests";
import { renderAudit, renderDelegates, renderEmergency, renderGrants, renderPolicy, renderRecords, renderRequests, renderSummary, type ViewContext } from "./views";
import { connectDevAccount, connectInjected, switchChain, type ConnectedWallet } from "./wallet";

type PageState = "loading" | "ready" | "busy" | "error";

/** A signed action, as a noun. */
const SIGNED_NOUN: Record<SignedConsent["kind"], string> = { grant: "grant", revoke: "revocation", approve: "approval", deny: "denial" };

function setPageState(state: PageState): void {
  document.body.dataset.state = state;
}

function status(text: string, tone: "info" | "ok" | "error" = "info"): void {
  const element = mount("status", text);
  element.dataset.tone = tone;
  element.hidden = text === "";
}

function showAlert(explanation: Explanation | undefined, config?: DappConfig, onGasless?: () => void): void {
  if (!explanation) {
    mount("alert").hidden = true;
    return;
  }
  const element = mount(
    "alert",
    h("strong", { class: "title" }, explanation.title),
    explanation.hint ? h("p", null, explanation.hint) : null,
    explanation.detail ? h("p", { class: "detail" }, explanation.detail) : null,
    h(
      "div",
      { class: "buttons" },
      explanation.switchTo !== undefined && window.ethereum
        ? h("button", { class: "primary", onclick: () => switchChain(explanation.switchTo as number, config?.rpcUrl).catch((error) => showAlert(explain(error, "connection"), config)) }, `Switch to chain ${explanation.switchTo}`)
        : null,
      explanation.suggestGasless && onGasless ? h("button", { class: "primary", onclick: onGasless }, "Sign instead") : null,
      h("button", { class: "link", onclick: () => showAlert(undefined) }, "Dismiss"),
    ),
  );
  element.dataset.kind = explanation.kind;
  element.hidden = false;
}

/** The account menu: the node's development accounts (local chains) and the browser wallet. */
function renderAccountMenu(config: DappConfig, choice: string | null): void {
  const options = [
    ...config.devAccounts.map((account) =>
      h("option", { value: String(account.index), selected: choice === String(account.index) }, `${account.name} · dev account #${account.index} · ${shortAddress(account.address)}`),
    ),
    h("option", { value: "injected", selected: choice === "injected", disabled: !window.ethereum }, window.ethereum ? "Browser wallet" : "Browser wallet (none found)"),
  ];
  const select = h(
    "select",
    {
      id: "account-select",
      "aria-label": "Account",
      onchange: (event: Event) => {
        const value = (event.currentTarget as HTMLSelectElement).value;
        const params = new URLSearchParams(value === "injected" ? { wallet: "injected" } : { account: value });
        location.search = params.toString();
      },
    },
    choice === null ? h("option", { value: "", selected: true, disabled: true }, "Choose an account") : null,
    options,
  );
  mount("account-menu", h("label", null, "Account ", select));
}

class Dashboard {
  private data?: DashboardData;
  private gasless = false;
  private busy = false;
  private readonly studies: Map<string, string>;
  private readonly manifests?: GatewayManifestStore;
  private readonly me: PatientClient;

  constructor(
    private readonly config: DappConfig,
    private readonly wallet: ConnectedWallet,
    private readonly contracts: LedgerContracts,
  ) {
    this.me = new PatientClient(contracts, wallet.signer);
    this.studies = new Map(config.studies.map((name) => [studyIdOf(name), name]));
    if (config.gateway) this.manifests = new GatewayManifestStore(new URL(config.gateway, location.href).toString().replace(/\/$/, ""));
  }

  private get patient(): string {
    return this.wallet.address;
  }

  async refresh(): Promise<void> {
    const first = this.data === undefined;
    this.data = await loadDashboard(this.contracts, this.me, this.patient, this.manifests);
    if (first && this.data.balance === 0n) {
      this.gasless = true;
      status("This account has no ETH for gas: \"Sign instead of sending\" is on, and a relayer submits what you sign.");
    }
    this.render();
  }

  private context(): ViewContext {
    return {
      patient: this.patient,
      labels: this.config.labels,
      studies: this.studies,
      gasless: this.gasless,
      busy: this.busy,
      actions: {
        approve: (view) => this.decide(view, "approve"),
        deny: (view) => this.decide(view, "deny"),
        revoke: (consent) => this.revoke(consent),
        grant: (input) => this.grant(input),
        setPolicy: (input) => this.setPolicy(input),
        clearPolicy: () => this.transact("Clearing your standing policy", () => this.me.clearPolicy(), () => "Your standing policy is cleared: you decide every request yourself."),
        addDelegate: (address, validUntil) =>
          this.transact("Appointing the delegate", () => this.me.appointDelegate(address, validUntil), (result) => `Delegate appointed until ${day(result.validUntil)}.`),
        removeDelegate: (address) => this.transact("Removing the delegate", () => this.me.removeDelegate(address), () => "Delegate removed."),
        setOptOut: (optedOut) =>
          this.transact(
            optedOut ? "Opting out of emergency access" : "Opting back into emergency access",
            () => this.me.setEmergencyOptOut(optedOut),
            (result) => (result.optedOut ? "You opted out of emergency access." : "Emergency access is allowed again."),
          ),
        exportAudit: () => this.exportAudit(),
        exportConsents: () => this.exportConsents(),
      },
    };
  }

  render(): void {
    const data = this.data;
    if (!data) return;
    const context = this.context();
    mount(
      "identity",
      h("span", null, "Signed in as ", h("strong", null, this.config.labels[this.patient.toLowerCase()] ?? "you"), " ", h("code", { title: this.patient }, this.patient)),
      h("span", { class: "badge info" }, chainText(this.wallet.chainId)),
      h("span", { class: "badge muted", "data-testid": "balance" }, `${Number(formatEther(data.balance)).toLocaleString("en-GB", { maximumFractionDigits: 4 })} ETH`),
      h("span", { class: "badge muted" }, this.wallet.kind === "dev" ? `node-held dev account #${this.wallet.index}` : "browser wallet"),
    );
    mount(
      "mode",
      h(
        "label",
        { class: "switch", title: "Sign a message instead of sending a transaction: a relayer submits it and pays the gas." },
        h("input", {
          type: "checkbox",
          id: "gasless",
          "data-testid": "gasless",
          checked: this.gasless,
          disabled: this.busy,
          onchange: (event: Event) => {
            this.gasless = (event.currentTarget as HTMLInputElement).checked;
            this.render();
          },
        }),
        " Sign instead of sending (gasless)",
      ),
    );
    mount("summary", renderSummary(data));
    mount("col-main", renderRequests(data, context), renderGrants(data, context), renderRecords(data, context), renderPolicy(data, context));
    mount("col-side", renderEmergency(data, context), renderDelegates(data, context), renderAudit(data, context));
  }

  // ----------------------------------------------------------------------------------------------
  // Actions

  /** Runs one action: buttons off, its progress in the status line, its failure explained, then a reload. */
  private async run(doing: Doing, work: () => Promise<string | undefined>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    setPageState("busy");
    showAlert(undefined);
    this.render();
    let done: string | undefined;
    try {
      done = await work();
    } catch (error) {
      console.error(error);
      status("");
      showAlert(explain(error, doing), this.config, () => {
        this.gasless = true;
        showAlert(undefined);
        this.render();
      });
    } finally {
      this.busy = false;
      try {
        await this.refresh();
      } catch (error) {
        showAlert(explain(error, "read"), this.config);
      }
      if (done) status(done, "ok");
      setPageState("ready");
    }
  }

  /** Sends a transaction through the SDK and waits for its block. */
  private transact<T>(label: string, send: () => Promise<PendingTransaction<T>>, describe: (result: T) => string): void {
    void this.run("transaction", async () => {
      status(`${label}: confirm in your wallet…`);
      const pending = await send();
      status(`${label}: waiting for the block (transaction ${pending.hash.slice(0, 10)}…)`);
      return describe(await pending.wait());
    });
  }

  /** Signs for a relayer through the SDK, and offers the signed consent. */
  private sign(label: string, make: (deadline: number) => Promise<SignedConsent>): void {
    void this.run("signature", async () => {
      status(`${label}: sign in your wallet (free, nothing is sent)…`);
      // The deadline from the chain's clock, not the browser's: they can differ on a development chain.
      const signed = await make((this.data?.now ?? Math.floor(Date.now() / 1000)) + 3600);
      this.offerSigned(signed);
      return "Signed. Nothing is on the ledger until someone submits it.";
    });
  }

  private decide(view: PendingRequest, decision: "approve" | "deny"): void {
    const researcher = this.config.labels[view.request.researcher.toLowerCase()] ?? shortAddress(view.request.researcher);
    const classes = dataClassList(view.request.terms.dataClasses);
    if (this.gasless) {
      return this.sign(decision === "approve" ? "Approval" : "Denial", (deadline) =>
        decision === "approve" ? this.me.signApprove(view.request, { deadline }) : this.me.signDeny(view.request, { deadline }),
      );
    }
    if (decision === "approve") {
      return this.transact(`Approving ${researcher}'s request`, () => this.me.approve(view.request), (result) => `Approved: ${researcher} may see ${classes} until ${day(result.consent.validUntil)}.`);
    }
    this.transact(`Denying ${researcher}'s request`, () => this.me.deny(view.request), () => `Denied: ${researcher}'s request is closed.`);
  }

  private revoke(consent: Consent): void {
    const grantee = this.config.labels[consent.grantee.toLowerCase()] ?? shortAddress(consent.grantee);
    if (this.gasless) return this.sign("Revocation", (deadline) => this.me.signRevoke(consent.grantee, { deadline }));
    this.transact(`Revoking ${grantee}'s access`, () => this.me.revoke(consent.grantee), () => `Revoked: ${grantee} can no longer get your records' keys.`);
  }

  private grant(input: GrantInput): void {
    if (this.gasless) return this.sign("Grant", (deadline) => this.me.signGrant(input, { deadline }));
    this.transact("Granting access", () => this.me.grant(input), (consent) => `Granted until ${day(consent.validUntil)}.`);
  }

  private setPolicy(input: PolicyInput): void {
    this.transact("Setting your standing policy", () => this.me.setPolicy(input), () => "Your standing policy is saved.");
  }

  /** The signed consent: download it, or hand it to the relayer. */
  private offerSigned(signed: SignedConsent): void {
    const json = JSON.stringify(signed, null, 2);
    const fileName = `signed-${signed.kind}-${signed.signer.slice(2, 8).toLowerCase()}-${signed.nonce}.json`;
    const dialog = h("dialog", { class: "signed", "data-testid": "signed-dialog" }) as HTMLDialogElement;
    const problem = h("div", { class: "problem", "data-testid": "relay-problem" });
    const relay = async () => {
      if (!this.config.relay) return;
      problem.replaceChildren();
      relayButton.disabled = true;
      relayButton.textContent = "Submitting…";
      try {
        const response = await fetch(this.config.relay, { method: "POST", headers: { "content-type": "application/json" }, body: json });
        const answer = (await response.json()) as { transactionHash?: string; error?: string; hint?: string };
        if (!response.ok) throw Object.assign(new Error(answer.error ?? `HTTP ${response.status}`), { hint: answer.hint });
        dialog.close();
        dialog.remove();
        await this.run("read", async () => `The relayer submitted your signed ${SIGNED_NOUN[signed.kind]} (transaction ${answer.transactionHash?.slice(0, 10)}…); you paid no gas.`);
      } catch (error) {
        const hint = (error as { hint?: string }).hint;
        problem.replaceChildren(h("strong", null, (error as Error).message), ...(hint ? [h("p", null, hint)] : []));
        relayButton.disabled = false;
        relayButton.textContent = "Send to the relayer";
      }
    };
    const relayButton = h("button", { class: "primary", "data-action": "relay", disabled: !this.config.relay, onclick: () => void relay() }, "Send to the relayer");
    dialog.append(
      h("h2", null, `Your signed ${SIGNED_NOUN[signed.kind]}`),
      h("p", null, "Nothing was sent: this is your signature. Anyone may submit it before ", h("strong", null, dateTime(signed.deadline)), ", and the ledger checks it; the one who submits pays the gas. You can cancel it with a transaction (its nonce) until then."),
      ...(this.config.relay ? [] : [h("p", { class: "note" }, "No relayer is configured: download it and give it to someone who will submit it.")]),
      h("pre", { "data-testid": "signed-json" }, json),
      problem,
      h(
        "div",
        { class: "buttons" },
        relayButton,
        h("button", { "data-action": "download-signed", onclick: () => download(fileName, json) }, "Download"),
        h("button", { class: "link", "data-action": "close-dialog", onclick: () => (dialog.close(), dialog.remove()) }, "Close"),
      ),
    );
    document.body.appendChild(dialog);
    dialog.showModal();
  }

  private exportAudit(): void {
    if (!this.data) return;
    const bundle = auditTrailToFhirBundle(this.data.audit, { chainId: this.contracts.chainId, ledger: this.contracts.deployment.ledger });
    download(`audit-${this.patient.slice(2, 8).toLowerCase()}.fhir.json`, JSON.stringify(bundle, null, 2), "application/fhir+json");
  }

  private exportConsents(): void {
    if (!this.data) return;
    const now = this.data.now;
    const origin = { chainId: this.contracts.chainId, ledger: this.contracts.deployment.ledger };
    const bundle = fhirCollection(this.data.consents.map((consent) => consentToFhir(consent, { ...origin, now })));
    download(`consents-${this.patient.slice(2, 8).toLowerCase()}.fhir.json`, JSON.stringify(bundle, null, 2), "application/fhir+json");
  }
}

async function main(): Promise<void> {
  setPageState("loading");
  const config = await loadConfig();
  const params = new URLSearchParams(location.search);
  const local = config.rpcUrl !== undefined && config.devAccounts.length > 0;
  const choice =
    params.get("wallet") === "injected"
      ? "injected"
      : (params.get("account") ?? (local ? String(config.defaultAccount ?? config.devAccounts[0].index) : window.ethereum ? "injected" : null));
  renderAccountMenu(config, choice);
  if (choice === null) {
    mount("col-main", h("p", { class: "empty" }, "Connect a wallet to see your consents."));
    showAlert({ kind: "other", title: "No wallet found", hint: "Install a browser wallet (an EIP-1193 extension such as MetaMask), or run the page with `npm run dapp` to use a local development account." });
    setPageState("error");
    return;
  }

  let wallet: ConnectedWallet;
  try {
    status(choice === "injected" ? "Connecting to your wallet…" : `Connecting development account #${choice}…`);
    wallet = choice === "injected" ? await connectInjected() : await connectDevAccount(config.rpcUrl as string, Number(choice));
  } catch (error) {
    status("");
    mount("col-main", h("p", { class: "empty" }, "Connect a wallet to see your consents."));
    showAlert(explain(error, "connection"), config);
    setPageState("error");
    return;
  }
  if (wallet.kind === "injected") {
    window.ethereum?.on?.("chainChanged", () => location.reload());
    window.ethereum?.on?.("accountsChanged", () => location.reload());
  }

  let contracts: LedgerContracts;
  try {
    contracts = await openLedger(wallet, config);
  } catch (error) {
    status("");
    mount("identity", h("span", null, "Signed in as ", h("code", null, wallet.address)), h("span", { class: "badge warn" }, chainText(wallet.chainId)));
    mount("col-main", h("p", { class: "empty" }, "Your consents appear here once the wallet is on the ledger's network."));
    showAlert(explain(error, "connection"), config);
    setPageState("error");
    return;
  }

  const dashboard = new Dashboard(config, wallet, contracts);
  try {
    status("Reading your records, requests and audit trail from the ledger…");
    await dashboard.refresh();
    if (document.getElementById("status")?.textContent?.startsWith("Reading")) status("");
    setPageState("ready");
  } catch (error) {
    status("");
    showAlert(explain(error, "read"), config);
    setPageState("error");
  }
}

void main();
