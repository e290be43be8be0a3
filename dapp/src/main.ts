/**
 * The patient's consent dashboard: connects a wallet (or a local development account), finds the suite
 * by chain id, and lets the patient decide requests, revoke, set a standing policy, appoint delegates,
 * opt out of emergency access, read the audit trail, and sign instead of sending when they have no gas.
 * Every on-chain step goes through the SDK ("consent-ledger").
 */
import "./style.css";

import {
  auditTrailToFhirBundle,
  CARE_DELEGATE_SCOPE,
  consentOfWord,
  consentToFhir,
  ContractRevertError,
  InvalidArgumentError,
  DataClass,
  dataClassText,
  Duo,
  duoMaskOf,
  maskOf,
  Purpose,
  describeConsentChange,
  fhirCollection,
  actionRoute,
  hasSignedForm,
  PatientClient,
  purposeMaskText,
  RelayerClient,
  requestIdOf,
  studyLabelOf,
  type ActionRoute,
  type ConsentAction,
  type ConsentChange,
  type StudyLabel,
  type Consent,
  type GrantInput,
  type LedgerContracts,
  type PatientAction,
  type PendingTransaction,
  type PolicyInput,
  SIGNED_CONSENT_PRIMARY_TYPES,
  type SignedConsent,
} from "consent-ledger";
import { formatEther } from "ethers";

import { loadConfig, type DappConfig } from "./config";
import { auditReaders, loadDashboard, type AuditReaders, type DashboardData, type PendingRequest } from "./data";
import { download, h, mount } from "./dom";
import { explain, fieldOf, relayedRefusal, relayerFieldOf, type Doing, type Explanation } from "./errors";
import { chainText, dataClassList, dateTime, day, shortAddress } from "./format";
import { openLedger } from "./ledger";
import { GatewayManifestStore } from "./manifests";
import { PseudonymPage, type ReviewPart } from "./pseudonyms";
import {
  nameOf,
  renderAudit,
  renderDelegates,
  renderEmergency,
  renderGrants,
  renderPolicy,
  renderRecords,
  renderRequests,
  renderSummary,
  showFieldErrors,
  type ViewContext,
} from "./views";
import { connectDevAccount, connectInjected, switchChain, type ConnectedWallet } from "./wallet";

type PageState = "loading" | "ready" | "busy" | "error";

/** A signed action, as a noun. */
const SIGNED_NOUN: Record<SignedConsent["kind"], string> = {
  grant: "grant",
  revoke: "revocation",
  approve: "approval",
  deny: "denial",
  setPolicy: "policy",
  clearPolicy: "policy removal",
  appointDelegate: "delegate appointment",
  removeDelegate: "delegate removal",
  setEmergencyOptOut: "emergency opt-out",
  invalidateNonces: "signature cancellation",
  registerKey: "key registration",
};

function setPageState(state: PageState): void {
  document.body.dataset.state = state;
}

function status(text: string, tone: "info" | "ok" | "error" = "info"): void {
  const element = mount("status", text);
  element.dataset.tone = tone;
  element.hidden = text === "";
}

function showAlert(
  explanation: Explanation | undefined,
  config?: DappConfig,
  onGasless?: () => void,
  onRetry?: () => void,
): void {
  if (!explanation) {
    mount("alert").hidden = true;
    return;
  }
  const element = mount(
    "alert",
    h("strong", { class: "title" }, explanation.title),
    explanation.hint ? h("p", null, explanation.hint) : null,
    explanation.detail
      ? h("details", { class: "detail" }, h("summary", null, "Technical details"), h("p", null, explanation.detail))
      : null,
    h(
      "div",
      { class: "buttons" },
      explanation.retry && onRetry
        ? h(
            "button",
            { class: "primary", "data-action": "retry", onclick: () => (showAlert(undefined), onRetry()) },
            "Retry",
          )
        : null,
      explanation.switchTo !== undefined && window.ethereum
        ? h(
            "button",
            {
              class: "primary",
              onclick: () =>
                switchChain(explanation.switchTo as number, config?.rpcUrl).catch((error) =>
                  showAlert(explain(error, "connection"), config),
                ),
            },
            `Switch to chain ${explanation.switchTo}`,
          )
        : null,
      explanation.suggestGasless && onGasless
        ? h("button", { class: "primary", onclick: onGasless }, "Sign instead")
        : null,
      h("button", { class: "link", "data-action": "dismiss", onclick: () => showAlert(undefined) }, "Dismiss"),
    ),
  );
  element.dataset.kind = explanation.kind;
  element.hidden = false;
}

/** Every form's input and every <details>' state, to put back after a re-render. */
interface Drafts {
  fields: Map<string, { name: string; value: string; checked: boolean }[]>;
  open: Map<string, boolean>;
}

function saveDrafts(): Drafts {
  const fields = new Map<string, { name: string; value: string; checked: boolean }[]>();
  for (const form of Array.from(document.querySelectorAll<HTMLFormElement>("form[id]"))) {
    fields.set(
      form.id,
      Array.from(form.querySelectorAll<HTMLInputElement>("input[name], select[name]")).map((input) => ({
        name: input.name,
        value: input.value,
        checked: input.checked,
      })),
    );
  }
  const open = new Map(
    Array.from(document.querySelectorAll<HTMLDetailsElement>("details[id]")).map((details) => [
      details.id,
      details.open,
    ]),
  );
  return { fields, open };
}

function restoreDrafts(drafts: Drafts): void {
  for (const [id, values] of drafts.fields) {
    const form = document.getElementById(id);
    if (!(form instanceof HTMLFormElement)) continue;
    const inputs = Array.from(form.querySelectorAll<HTMLInputElement>("input[name], select[name]"));
    values.forEach((saved, index) => {
      const input = inputs[index];
      if (!input || input.name !== saved.name) return;
      if (input.type === "checkbox" || input.type === "radio") input.checked = saved.checked;
      else input.value = saved.value;
    });
    form.dispatchEvent(new Event("change"));
  }
  for (const [id, open] of drafts.open) {
    const details = document.getElementById(id);
    if (details instanceof HTMLDetailsElement) details.open = open;
  }
}

/** How an action reaches the ledger, as the review step says it: sent, relayed, or only signed. */
type ReviewRoute = ActionRoute | "sign";

/** What the review step says about how the action is sent and who pays the gas. */
const ROUTE_TEXT: Record<ReviewRoute, string> = {
  relayer:
    "Gasless, through the relayer: your wallet signs a message (no transaction) and the relayer sends it and pays the gas.",
  direct: "Sent directly as a transaction from your account, which pays the gas.",
  "direct-no-signed-form":
    "Sent directly as a transaction from your account, which pays the gas: the ledger has no signed form of this action yet, so the relayer cannot send it.",
  sign: "Nothing is sent: your wallet signs a message that you download or hand to a relayer, who pays the gas.",
};

function beforeAfter(change: ConsentChange): HTMLElement {
  return h(
    "div",
    { class: "before-after" },
    h("div", { "data-testid": "review-before" }, h("h3", null, "Now"), h("p", null, change.before)),
    h("div", { class: "arrow", "aria-hidden": "true" }, "→"),
    h("div", { "data-testid": "review-after" }, h("h3", null, "After"), h("p", null, change.after)),
  );
}

/**
 * The review step: what the action changes, before → after, what cannot be undone, and how it is sent
 * (`route`). With `parts` (one decision applied to several pseudonyms) it shows each change, each with
 * its own before → after, and nothing is sent unless all of them are confirmed together. Resolves true
 * on Confirm, false on Cancel or Escape; nothing is sent before it resolves true.
 */
function review(
  change: ConsentChange,
  confirmLabel: string,
  route: ReviewRoute,
  parts: readonly ReviewPart[] = [],
): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h("dialog", {
      class: "review",
      "data-testid": "review",
      "aria-labelledby": "review-title",
      "data-kind": change.kind,
    }) as HTMLDialogElement;
    const close = (confirmed: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(confirmed);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    dialog.append(
      h("h2", { id: "review-title" }, change.title),
      h(
        "div",
        { class: "review-body" },
        change.flagged.length
          ? h(
              "p",
              { class: "sensitive-warning", "data-testid": "review-sensitive" },
              h("span", { "aria-hidden": "true" }, "⚠ "),
              `Sensitive data: ${dataClassText(change.flagged.reduce((mask, name) => mask | (1 << DataClass[name]), 0))}. Think twice before sharing it.`,
            )
          : null,
        parts.length
          ? h(
              "ol",
              { class: "review-parts", "data-testid": "review-parts" },
              parts.map((part) =>
                h(
                  "li",
                  { "data-testid": "review-part", "data-kind": part.change.kind },
                  h("h3", null, `${part.label}: ${part.change.title}`),
                  beforeAfter(part.change),
                ),
              ),
            )
          : beforeAfter(change),
        change.notes.length
          ? h(
              "ul",
              { class: "notes", "data-testid": "review-notes" },
              change.notes.map((note) => h("li", null, note)),
            )
          : null,
        h(
          "p",
          { class: `route route-${route}`, "data-testid": "review-route", "data-route": route },
          ROUTE_TEXT[route],
        ),
        change.cannotUndo.length
          ? h(
              "div",
              { class: "cannot-undo", "data-testid": "review-cannot-undo" },
              h("h3", null, "What cannot be undone"),
              h(
                "ul",
                null,
                change.cannotUndo.map((item) => h("li", null, item)),
              ),
            )
          : null,
        h(
          "div",
          { class: "buttons" },
          h(
            "button",
            {
              class:
                change.kind === "revoke" || change.kind === "emergency-opt-out" || change.kind === "deny"
                  ? "danger-solid"
                  : "primary",
              "data-action": "confirm",
              onclick: () => close(true),
            },
            confirmLabel,
          ),
          h("button", { "data-action": "cancel", onclick: () => close(false) }, "Cancel, change nothing"),
        ),
      ),
    );
    document.body.appendChild(dialog);
    dialog.showModal();
    (dialog.querySelector('[data-action="cancel"]') as HTMLElement).focus();
  });
}

/** The account menu: the node's development accounts (local chains) and the browser wallet. */
function renderAccountMenu(config: DappConfig, choice: string | null): void {
  const options = [
    ...config.devAccounts.map((account) =>
      h(
        "option",
        { value: String(account.index), selected: choice === String(account.index) },
        `${account.name} · dev account #${account.index} · ${shortAddress(account.address)}`,
      ),
    ),
    // A development account the server does not name (?account=9): still shown as the one in use.
    choice !== null && /^\d+$/.test(choice) && !config.devAccounts.some((account) => String(account.index) === choice)
      ? h("option", { value: choice, selected: true }, `dev account #${choice}`)
      : null,
    h(
      "option",
      { value: "injected", selected: choice === "injected", disabled: !window.ethereum },
      window.ethereum ? "Browser wallet" : "Browser wallet (none found)",
    ),
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

/** The two modes: the wallet's own consents, or its pseudonyms seen as one (dapp/src/pseudonyms.ts). */
function renderViewNav(params: URLSearchParams): void {
  const pseudonyms = params.get("view") === "pseudonyms";
  const to = (view?: string) => {
    const next = new URLSearchParams(params);
    if (view) next.set("view", view);
    else next.delete("view");
    return `?${next.toString()}`;
  };
  mount(
    "view-nav",
    h(
      "a",
      { href: to(), "aria-current": pseudonyms ? undefined : "page", "data-testid": "view-account" },
      "My consents",
    ),
    h(
      "a",
      { href: to("pseudonyms"), "aria-current": pseudonyms ? "page" : undefined, "data-testid": "view-pseudonyms" },
      "Pseudonyms",
    ),
  );
}

/** Where the person was: the id of the element focused when an action started. */
function focusedId(): string | undefined {
  const active = document.activeElement as HTMLElement | null;
  return active && active !== document.body && active.id ? active.id : undefined;
}

/** Puts focus back on the element with `id`, else on the heading of the section it was in. */
function returnFocus(id: string | undefined, section: string | undefined): void {
  const target = (id && document.getElementById(id)) || (section && document.getElementById(`${section}-title`));
  if (target instanceof HTMLElement && !(target as HTMLButtonElement).disabled) target.focus();
  else if (target instanceof HTMLElement && section) document.getElementById(`${section}-title`)?.focus();
}

/** The SDK's argument names → the forms' field names, where they differ. */
const ARGUMENT_FIELD: Readonly<Record<string, string>> = {
  validUntil: "until",
  dataClasses: "dataClass",
  purposes: "purpose",
};

/** The PatientClient write each reviewed action is. */
const ACTION_OF: Record<ConsentAction["kind"], PatientAction> = {
  grant: "grant",
  revoke: "revoke",
  approve: "approve",
  deny: "deny",
  "set-policy": "setPolicy",
  "clear-policy": "clearPolicy",
  "appoint-delegate": "appointDelegate",
  "remove-delegate": "removeDelegate",
  "emergency-opt-out": "setEmergencyOptOut",
};

/** An action's form, so a refusal about one of its fields is shown next to it. */
type FormId = "grant-form" | "delegate-form" | "policy-form";

class Dashboard {
  private data?: DashboardData;
  private gasless = false;
  /** Send the actions that have a signed form through the relayer (the default when there is one). */
  private viaRelayer: boolean;
  private busy = false;
  private readonly studyLabels = new Map<string, StudyLabel>();
  private readonly audits: AuditReaders;
  private readonly me: PatientClient;
  /** The same patient, its signed actions sent through the relayer; undefined when none is configured. */
  private readonly relayed?: PatientClient;

  constructor(
    private readonly config: DappConfig,
    private readonly wallet: ConnectedWallet,
    private readonly contracts: LedgerContracts,
  ) {
    this.me = new PatientClient(contracts, wallet.signer);
    if (config.relayer) {
      const relayer = new RelayerClient(new URL(config.relayer, location.href).href);
      // allowDirect: an action with no signed form yet is sent from the account, as the review step says.
      this.relayed = new PatientClient(contracts, wallet.signer, { relayer, allowDirect: true });
    }
    this.viaRelayer = this.relayed !== undefined;
    const manifests = config.gateway
      ? new GatewayManifestStore(new URL(config.gateway, location.href).toString().replace(/\/$/, ""))
      : undefined;
    this.audits = auditReaders(contracts, manifests);
  }

  private get patient(): string {
    return this.wallet.address;
  }

  async refresh(): Promise<void> {
    const first = this.data === undefined;
    this.data = await loadDashboard(this.contracts, this.patient, this.audits);
    await this.loadStudyLabels(this.data);
    if (first && this.data.balance === 0n && this.relayed) {
      status("This account has no ETH for gas: grants, revocations and decisions go gasless through the relayer.");
    } else if (first && this.data.balance === 0n) {
      this.gasless = true;
      status('This account has no ETH for gas: "Sign instead of sending" is on, and a relayer submits what you sign.');
    }
    this.render();
  }

  /**
   * The label each researcher published for their study (GET studies/<studyId>.json), checked against
   * the id on the ledger by the SDK; once per study, a missing or wrong one shown as "unverified study".
   */
  private async loadStudyLabels(data: DashboardData): Promise<void> {
    const ids = [...new Set(data.requests.map((view) => view.request.terms.studyId.toLowerCase()))].filter(
      (id) => !this.studyLabels.has(id),
    );
    await Promise.all(
      ids.map(async (id) => {
        let metadata: unknown;
        try {
          const response = await fetch(`./studies/${id}.json`, { cache: "no-store" });
          if (response.ok) metadata = await response.json();
        } catch {
          metadata = undefined;
        }
        this.studyLabels.set(id, studyLabelOf(metadata, id));
      }),
    );
  }

  private nameOf = (address: string) => nameOf(address, { patient: this.patient, labels: this.config.labels });

  private context(): ViewContext {
    return {
      patient: this.patient,
      labels: this.config.labels,
      studyLabels: this.studyLabels,
      gasless: this.gasless,
      busy: this.busy,
      actions: {
        approve: (view) => void this.decide(view, "approve"),
        deny: (view) => void this.decide(view, "deny"),
        revoke: (consent) => void this.revoke(consent),
        grant: (input) => void this.grant(input),
        setPolicy: (input) => void this.setPolicy(input),
        clearPolicy: () =>
          void this.reviewed({ kind: "clear-policy" }, "Clear the policy", () =>
            this.transact(
              "Clearing your standing policy",
              () => this.client().clearPolicy(),
              () => "Your standing policy is cleared: you decide every request yourself.",
            ),
          ),
        addDelegate: (address, validUntil) =>
          void this.reviewed(
            {
              kind: "appoint-delegate",
              delegate: address,
              validUntil: Math.floor(validUntil.getTime() / 1000),
              // A carer's scope: the form offers no other yet; the CLI and the SDK let a patient choose.
              purposes: maskOf(
                (CARE_DELEGATE_SCOPE.purposes as readonly (keyof typeof Purpose)[]).map((name) => Purpose[name]),
              ),
              sensitiveClasses: CARE_DELEGATE_SCOPE.sensitiveClasses,
            },
            "Appoint the delegate",
            () =>
              this.transact(
                "Appointing the delegate",
                () => this.client().appointDelegate(address, validUntil, CARE_DELEGATE_SCOPE),
                (result) => `Delegate appointed until ${day(result.validUntil)}.`,
                "delegate-form",
              ),
          ),
        removeDelegate: (address) =>
          void this.reviewed({ kind: "remove-delegate", delegate: address }, "Remove the delegate", () =>
            this.transact(
              "Removing the delegate",
              () => this.client().removeDelegate(address),
              () => "Delegate removed.",
            ),
          ),
        setOptOut: (optedOut) =>
          void this.reviewed(
            { kind: "emergency-opt-out", optedOut },
            optedOut ? "Opt out of emergency access" : "Allow emergency access",
            () =>
              this.transact(
                optedOut ? "Opting out of emergency access" : "Opting back into emergency access",
                () => this.client().setEmergencyOptOut(optedOut),
                (result) =>
                  result.optedOut ? "You opted out of emergency access." : "Emergency access is allowed again.",
              ),
          ),
        exportAudit: () => void this.run("read", () => this.exportAudit()),
        // Reads the time and basis of every audit entry, not only the newest, and shows them.
        auditDetails: () =>
          void this.run("read", async () => {
            this.audits.details = Number.POSITIVE_INFINITY;
            return undefined;
          }),
        exportConsents: () => this.exportConsents(),
        reload: () => void this.run("read", async () => undefined),
      },
    };
  }

  /** The client an action is sent with: through the relayer when it is on, else directly. */
  private client(): PatientClient {
    return this.viaRelayer && this.relayed ? this.relayed : this.me;
  }

  /** How `action` will be sent now, for the review step. */
  private route(action: PatientAction): ReviewRoute {
    if (this.gasless && hasSignedForm(action)) return "sign";
    return actionRoute(action, this.viaRelayer && this.relayed !== undefined);
  }

  render(): void {
    const data = this.data;
    if (!data) return;
    const drafts = saveDrafts();
    const context = this.context();
    mount(
      "identity",
      h(
        "span",
        null,
        "Signed in as ",
        h("strong", null, this.config.labels[this.patient.toLowerCase()] ?? "you"),
        " ",
        h("code", { title: this.patient }, this.patient),
      ),
      h("span", { class: "badge info" }, chainText(this.wallet.chainId)),
      h(
        "span",
        { class: "badge muted", "data-testid": "balance" },
        `${Number(formatEther(data.balance)).toLocaleString("en-GB", { maximumFractionDigits: 4 })} ETH`,
      ),
      h(
        "span",
        { class: "badge muted" },
        this.wallet.kind === "dev" ? `node-held dev account #${this.wallet.index}` : "browser wallet",
      ),
    );
    mount(
      "mode",
      h(
        "label",
        {
          class: "switch",
          title: "Sign a message instead of sending a transaction: a relayer submits it and pays the gas.",
        },
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
      this.relayed
        ? h(
            "label",
            {
              class: "switch",
              title:
                "Grants, revocations, approvals and denials go as signed messages through the relayer, which pays the gas. Off: they are sent from your account.",
            },
            h("input", {
              type: "checkbox",
              id: "via-relayer",
              "data-testid": "via-relayer",
              checked: this.viaRelayer,
              disabled: this.busy,
              onchange: (event: Event) => {
                this.viaRelayer = (event.currentTarget as HTMLInputElement).checked;
                this.render();
              },
            }),
            " Through the relayer (gasless)",
          )
        : null,
    );
    mount("summary", renderSummary(data));
    mount(
      "col-main",
      renderRequests(data, context),
      renderGrants(data, context),
      renderRecords(data, context),
      renderPolicy(data, context),
    );
    mount("col-side", renderEmergency(data, context), renderDelegates(data, context), renderAudit(data, context));
    restoreDrafts(drafts);
  }

  // ----------------------------------------------------------------------------------------------
  // Actions

  /** What the action changes, from what is in force now (the SDK's describeConsentChange). */
  private changeOf(action: ConsentAction): ConsentChange {
    const data = this.data as DashboardData;
    const party =
      "grantee" in action
        ? action.grantee
        : "request" in action
          ? action.request.researcher
          : "delegate" in action
            ? action.delegate
            : undefined;
    const consent = party
      ? data.consents.find((item) => item.grantee.toLowerCase() === party.toLowerCase())
      : undefined;
    const delegateUntil = party
      ? data.delegates.find((item) => item.address.toLowerCase() === party.toLowerCase())?.validUntil
      : undefined;
    return describeConsentChange(
      action,
      { now: data.now, consent, policy: data.policy, optedOut: data.optedOut, delegateUntil },
      { nameOf: this.nameOf, dayOf: day },
    );
  }

  /** Shows the review step; runs `then` only on Confirm. Cancel puts the page back as it was, focus included. */
  private async reviewed(action: ConsentAction, confirmLabel: string, then: () => void): Promise<void> {
    if (this.busy || !this.data) return;
    const focus = focusedId();
    const section = (document.activeElement as HTMLElement | null)?.closest("section")?.id;
    const confirmed = await review(this.changeOf(action), confirmLabel, this.route(ACTION_OF[action.kind]));
    if (!confirmed) {
      this.render();
      returnFocus(focus, section);
      return;
    }
    this.returnTo = { focus, section };
    then();
  }

  private returnTo?: { focus?: string; section?: string };

  /** Runs one action: buttons off, its progress in the status line, its failure explained, then a reload. */
  private async run(doing: Doing, work: () => Promise<string | undefined>, form?: FormId): Promise<void> {
    if (this.busy) return;
    const back = this.returnTo ?? {
      focus: focusedId(),
      section: (document.activeElement as HTMLElement | null)?.closest("section")?.id,
    };
    this.returnTo = undefined;
    this.busy = true;
    setPageState("busy");
    showAlert(undefined);
    this.render();
    let done: string | undefined;
    let failure: unknown;
    try {
      done = await work();
    } catch (error) {
      console.error(error);
      failure = error;
      status("");
    } finally {
      this.busy = false;
      try {
        await this.refresh();
      } catch (error) {
        showAlert(explain(error, "read"), this.config, undefined, () => void this.run("read", async () => undefined));
      }
      if (failure !== undefined) this.showFailure(failure, doing, form, () => void this.run(doing, work, form));
      else if (form) this.clearForm(form);
      if (done) status(done, "ok");
      setPageState("ready");
      const field =
        failure !== undefined && form ? document.querySelector<HTMLElement>(`#${form} [aria-invalid="true"]`) : null;
      if (field) field.focus();
      else returnFocus(back.focus, back.section);
    }
  }

  /** A refusal about a field of `form` goes next to that field; anything else to the alert, with Retry where it helps. */
  private showFailure(failure: unknown, doing: Doing, form: FormId | undefined, retry: () => void): void {
    // A relayer's WouldRevert carries the ledger's refusal: it goes under its field like a direct one.
    const error = relayedRefusal(failure);
    const explanation = explain(error, doing);
    // A refusal that names a field: the ledger's custom error, or the SDK's check of an argument.
    const argument =
      error instanceof InvalidArgumentError ? (ARGUMENT_FIELD[error.argument] ?? error.argument) : undefined;
    const field = form
      ? error instanceof ContractRevertError
        ? fieldOf(error.errorName)
        : (relayerFieldOf(error) ?? argument)
      : undefined;
    const element = form ? document.getElementById(form) : null;
    if (field && element instanceof HTMLFormElement && element.querySelector(`[data-error-for="${field}"]`)) {
      showFieldErrors(element, { [field]: `${explanation.title} ${explanation.hint ?? ""}`.trim() }, false);
      const details = element.closest("details");
      if (details) details.open = true;
      status("Nothing was sent to the ledger: see the form.", "error");
      return;
    }
    showAlert(
      explanation,
      this.config,
      () => {
        this.gasless = true;
        showAlert(undefined);
        this.render();
      },
      retry,
    );
  }

  private clearForm(form: FormId): void {
    const element = document.getElementById(form);
    if (element instanceof HTMLFormElement) {
      element.reset();
      showFieldErrors(element, {}, false);
    }
  }

  /** Sends a transaction through the SDK and waits for its block. */
  private transact<T>(
    label: string,
    send: () => Promise<PendingTransaction<T>>,
    describe: (result: T) => string,
    form?: FormId,
  ): void {
    void this.run(
      "transaction",
      async () => {
        status(`${label}: confirm in your wallet…`);
        const pending = await send();
        status(`${label}: waiting for the block (transaction ${pending.hash.slice(0, 10)}…)`);
        return describe(await pending.wait());
      },
      form,
    );
  }

  /** Signs for a relayer through the SDK, and offers the signed consent. */
  private sign(label: string, make: (deadline: number) => Promise<SignedConsent>, form?: FormId): void {
    void this.run(
      "signature",
      async () => {
        status(`${label}: sign in your wallet (free, nothing is sent)…`);
        // The deadline from the chain's clock, not the browser's: they can differ on a development chain.
        const signed = await make((this.data?.now ?? Math.floor(Date.now() / 1000)) + 3600);
        this.offerSigned(signed);
        return "Signed. Nothing is on the ledger until someone submits it.";
      },
      form,
    );
  }

  private async decide(view: PendingRequest, decision: "approve" | "deny"): Promise<void> {
    const researcher = this.nameOf(view.request.researcher);
    const classes = dataClassList(view.request.terms.dataClasses);
    const verb =
      decision === "approve"
        ? this.gasless
          ? "Sign the approval"
          : "Approve"
        : this.gasless
          ? "Sign the denial"
          : "Deny";
    await this.reviewed({ kind: decision, request: view.request }, verb, () => {
      if (this.gasless) {
        return this.sign(decision === "approve" ? "Approval" : "Denial", (deadline) =>
          decision === "approve"
            ? this.me.signApprove(view.request, { deadline })
            : this.me.signDeny(view.request, { deadline }),
        );
      }
      if (decision === "approve") {
        return this.transact(
          `Approving ${researcher}'s request`,
          () => this.client().approve(view.request),
          (result) => `Approved: ${researcher} may see ${classes} until ${day(result.consent.validUntil)}.`,
        );
      }
      this.transact(
        `Denying ${researcher}'s request`,
        () => this.client().deny(view.request),
        () => `Denied: ${researcher}'s request is closed.`,
      );
    });
  }

  private async revoke(consent: Consent): Promise<void> {
    const grantee = this.nameOf(consent.grantee);
    await this.reviewed(
      { kind: "revoke", grantee: consent.grantee },
      this.gasless ? "Sign the revocation" : "Revoke",
      () => {
        if (this.gasless)
          return this.sign("Revocation", (deadline) => this.me.signRevoke(consent.grantee, { deadline }));
        this.transact(
          `Revoking ${grantee}'s access`,
          () => this.client().revoke(consent.grantee),
          () => `Revoked: ${grantee} can no longer get your records' keys.`,
        );
      },
    );
  }

  private async grant(input: GrantInput): Promise<void> {
    const data = this.data as DashboardData;
    const toMask = (items: readonly (string | number)[] | number, table: Record<string, number>) =>
      typeof items === "number" ? items : maskOf(items.map((item) => (typeof item === "number" ? item : table[item])));
    const action: ConsentAction = {
      kind: "grant",
      grantee: input.grantee,
      dataClasses: toMask(input.dataClasses, DataClass),
      purposes: toMask(input.purposes, Purpose),
      validFrom: data.now,
      validUntil: Math.floor(new Date(input.validUntil).getTime() / 1000),
    };
    await this.reviewed(action, this.gasless ? "Sign the grant" : "Grant access", () => {
      if (this.gasless) return this.sign("Grant", (deadline) => this.me.signGrant(input, { deadline }), "grant-form");
      this.transact(
        "Granting access",
        () => this.client().grant(input),
        (consent) => `Granted until ${day(consent.validUntil)}.`,
        "grant-form",
      );
    });
  }

  private async setPolicy(input: PolicyInput): Promise<void> {
    const mask = (items: readonly (string | number)[] | number | undefined, table: Record<string, number>) =>
      items === undefined
        ? 0
        : typeof items === "number"
          ? items
          : maskOf(items.map((item) => (typeof item === "number" ? item : table[item])));
    const action: ConsentAction = {
      kind: "set-policy",
      policy: {
        permission: typeof input.permission === "number" ? input.permission : Duo[input.permission],
        modifiers: duoMaskOf(
          (input.modifiers ?? []).filter((item): item is keyof typeof Duo => typeof item === "string"),
        ),
        dataClasses: mask(input.dataClasses, DataClass),
        purposes: mask(input.purposes, Purpose),
        maxDuration: input.maxDuration ?? 0,
        validUntil: input.validUntil ? Math.floor(new Date(input.validUntil).getTime() / 1000) : 0,
      },
    };
    await this.reviewed(action, "Save the policy", () =>
      this.transact(
        "Setting your standing policy",
        () => this.client().setPolicy(input),
        () => "Your standing policy is saved.",
        "policy-form",
      ),
    );
  }

  /** The consent a signed grant or approval replaces, as its signer saw it: the ledger refuses it over any other. */
  private seenText(word: string | undefined, grantee: string): string {
    const seen = consentOfWord(BigInt(word ?? "0"));
    const name = this.nameOf(grantee);
    if (seen === undefined)
      return `Nothing: ${name} has no consent now (void if one is given before this is submitted)`;
    const ended = seen.validUntil <= (this.data?.now ?? Math.floor(Date.now() / 1000));
    return (
      `${name}'s consent: ${dataClassText(seen.dataClasses)} for ${purposeMaskText(seen.purposes)}, ` +
      `${ended ? "ended" : "until"} ${dateTime(seen.validUntil)} (void if it changes before this is submitted)`
    );
  }

  /** What the wallet is asked to sign, field by field as the EIP-712 message names them, in words. */
  private signedSummary(signed: SignedConsent): HTMLElement {
    const person = (address: string) => `${this.nameOf(address)} (${address})`;
    const rows: [field: string, label: string, words: string, raw: string][] = [
      ["signer", "Signed by", person(signed.signer), signed.signer],
    ];
    const primaryType = SIGNED_CONSENT_PRIMARY_TYPES[signed.kind];
    if (signed.kind === "grant" && signed.grant) {
      const grant = signed.grant;
      rows.push(
        ["patient", "Patient", person(signed.patient as string), signed.patient as string],
        ["grantee", "Who gets access", person(grant.grantee), grant.grantee],
        ["dataClasses", "Which data", dataClassText(grant.dataClasses), String(grant.dataClasses)],
        ["purposes", "For what", purposeMaskText(grant.purposes), String(grant.purposes)],
        ["validFrom", "From", dateTime(grant.validFrom), String(grant.validFrom)],
        ["validUntil", "Until", dateTime(grant.validUntil), String(grant.validUntil)],
        ["seenConsent", "Replaces", this.seenText(signed.seenConsent, grant.grantee), signed.seenConsent ?? "0"],
      );
    } else if (signed.kind === "revoke") {
      rows.push(
        ["patient", "Patient", person(signed.patient as string), signed.patient as string],
        ["grantee", "Whose access ends", person(signed.grantee as string), signed.grantee as string],
      );
    } else if (signed.request) {
      const request = signed.request;
      const requestId = requestIdOf({
        ...request,
        terms: { ...request.terms, acceptedObligations: BigInt(request.terms.acceptedObligations) },
      });
      rows.push([
        "requestId",
        signed.kind === "approve" ? "The request you approve" : "The request you deny",
        `${this.nameOf(request.researcher)}'s request for ${dataClassText(request.terms.dataClasses)} (${purposeMaskText(1 << request.terms.purpose)})`,
        requestId,
      ]);
      if (signed.kind === "approve") {
        rows.push([
          "seenConsent",
          "Replaces",
          this.seenText(signed.seenConsent, request.researcher),
          signed.seenConsent ?? "0",
        ]);
      }
    }
    rows.push(
      ["nonce", "Number (lets you cancel it)", signed.nonce, signed.nonce],
      ["deadline", "Valid until", dateTime(signed.deadline), String(signed.deadline)],
    );
    return h(
      "div",
      { class: "signed-summary", "data-testid": "signed-summary", "data-primary-type": primaryType },
      h(
        "p",
        null,
        `Your wallet shows this as the "${primaryType}" message of "ConsentLedger" version 1, on ${chainText(signed.chainId)}, for the ledger at `,
        h("code", null, signed.ledger),
        ".",
      ),
      h(
        "dl",
        { class: "terms" },
        rows.map(([field, label, words, raw]) => [
          h("dt", null, label, " ", h("code", null, field)),
          h("dd", { "data-field": field, "data-value": raw }, words),
        ]),
      ),
    );
  }

  /** The signed consent: download it, or hand it to the relayer. */
  private offerSigned(signed: SignedConsent): void {
    const json = JSON.stringify(signed, null, 2);
    const fileName = `signed-${signed.kind}-${signed.signer.slice(2, 8).toLowerCase()}-${signed.nonce}.json`;
    const dialog = h("dialog", {
      class: "signed",
      "data-testid": "signed-dialog",
      "aria-labelledby": "signed-title",
    }) as HTMLDialogElement;
    const problem = h("div", { class: "problem", "data-testid": "relay-problem", role: "alert" });
    const relay = async () => {
      if (!this.config.relay) return;
      problem.replaceChildren();
      relayButton.disabled = true;
      relayButton.textContent = "Submitting…";
      try {
        const response = await fetch(this.config.relay, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: json,
        });
        const answer = (await response.json()) as { transactionHash?: string; error?: string; hint?: string };
        if (!response.ok)
          throw Object.assign(new Error(answer.error ?? `HTTP ${response.status}`), { hint: answer.hint });
        dialog.close();
        dialog.remove();
        await this.run(
          "read",
          async () =>
            `The relayer submitted your signed ${SIGNED_NOUN[signed.kind]} (transaction ${answer.transactionHash?.slice(0, 10)}…); you paid no gas.`,
        );
      } catch (error) {
        const hint = (error as { hint?: string }).hint;
        problem.replaceChildren(
          h("strong", null, `The relayer could not submit it: ${(error as Error).message}`),
          ...(hint ? [h("p", null, hint)] : []),
        );
        relayButton.disabled = false;
        relayButton.textContent = "Retry: send to the relayer";
      }
    };
    const relayButton = h(
      "button",
      { class: "primary", "data-action": "relay", disabled: !this.config.relay, onclick: () => void relay() },
      "Send to the relayer",
    );
    dialog.append(
      h("h2", { id: "signed-title" }, `Your signed ${SIGNED_NOUN[signed.kind]}`),
      h(
        "p",
        null,
        "Nothing was sent: this is your signature. Anyone may submit it before ",
        h("strong", null, dateTime(signed.deadline)),
        ", and the ledger checks it; the one who submits pays the gas. You can cancel it with a transaction (its nonce) until then.",
      ),
      ...(this.config.relay
        ? []
        : [
            h(
              "p",
              { class: "note" },
              "No relayer is configured: download it and give it to someone who will submit it.",
            ),
          ]),
      this.signedSummary(signed),
      h(
        "details",
        null,
        h("summary", null, "The signed message as JSON"),
        h("pre", { "data-testid": "signed-json" }, json),
      ),
      problem,
      h(
        "div",
        { class: "buttons" },
        relayButton,
        h("button", { "data-action": "download-signed", onclick: () => download(fileName, json) }, "Download"),
        h(
          "button",
          { class: "link", "data-action": "close-dialog", onclick: () => (dialog.close(), dialog.remove()) },
          "Close",
        ),
      ),
    );
    document.body.appendChild(dialog);
    dialog.showModal();
  }

  private async exportAudit(): Promise<undefined> {
    if (!this.data) return undefined;
    // The export has every entry's time and basis: the page may show only the newest with theirs.
    const entries = await (
      this.data.auditWarning ? this.audits.plain : (this.audits.withManifests ?? this.audits.plain)
    ).history(this.patient);
    const bundle = auditTrailToFhirBundle(entries, {
      chainId: this.contracts.chainId,
      ledger: this.contracts.deployment.ledger,
    });
    download(
      `audit-${this.patient.slice(2, 8).toLowerCase()}.fhir.json`,
      JSON.stringify(bundle, null, 2),
      "application/fhir+json",
    );
    return undefined;
  }

  private exportConsents(): void {
    if (!this.data) return;
    const now = this.data.now;
    const origin = { chainId: this.contracts.chainId, ledger: this.contracts.deployment.ledger };
    const bundle = fhirCollection(this.data.consents.map((consent) => consentToFhir(consent, { ...origin, now })));
    download(
      `consents-${this.patient.slice(2, 8).toLowerCase()}.fhir.json`,
      JSON.stringify(bundle, null, 2),
      "application/fhir+json",
    );
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
      : (params.get("account") ??
        (local ? String(config.defaultAccount ?? config.devAccounts[0].index) : window.ethereum ? "injected" : null));
  renderAccountMenu(config, choice);
  renderViewNav(params);
  if (choice === null) {
    mount("col-main", h("p", { class: "empty" }, "Connect a wallet to see your consents."));
    showAlert({
      kind: "other",
      title: "No wallet found",
      hint: "Install a browser wallet (an EIP-1193 extension such as MetaMask), or run the page with `npm run dapp` to use a local development account.",
    });
    setPageState("error");
    return;
  }

  await start(config, choice);
}

/** Connect, find the ledger, read: each step's failure explained, with Retry where trying again can help. */
async function start(config: DappConfig, choice: string): Promise<void> {
  setPageState("loading");
  const retry = () => void start(config, choice);
  let wallet: ConnectedWallet;
  try {
    status(choice === "injected" ? "Connecting to your wallet…" : `Connecting development account #${choice}…`);
    wallet =
      choice === "injected"
        ? await connectInjected()
        : await connectDevAccount(config.rpcUrl as string, Number(choice));
  } catch (error) {
    status("");
    mount("col-main", h("p", { class: "empty" }, "Connect a wallet to see your consents."));
    showAlert(explain(error, "connection"), config, undefined, retry);
    setPageState("error");
    return;
  }
  if (wallet.kind === "injected" && !listening) {
    listening = true;
    window.ethereum?.on?.("chainChanged", () => location.reload());
    window.ethereum?.on?.("accountsChanged", () => location.reload());
  }

  let contracts: LedgerContracts;
  try {
    contracts = await openLedger(wallet, config);
  } catch (error) {
    status("");
    mount(
      "identity",
      h("span", null, "Signed in as ", h("code", null, wallet.address)),
      h("span", { class: "badge warn" }, chainText(wallet.chainId)),
    );
    mount(
      "col-main",
      h("p", { class: "empty" }, "Your consents appear here once the wallet is on the ledger's network."),
    );
    showAlert(explain(error, "connection"), config, undefined, retry);
    setPageState("error");
    return;
  }

  if (new URLSearchParams(location.search).get("view") === "pseudonyms") {
    status("");
    mount(
      "identity",
      h("span", null, "Wallet ", h("code", { title: wallet.address }, wallet.address)),
      h("span", { class: "badge info" }, chainText(wallet.chainId)),
    );
    new PseudonymPage({
      config,
      wallet,
      contracts,
      review,
      status,
      showAlert: (explanation) => showAlert(explanation, config),
      setPageState,
    }).start();
    return;
  }

  const dashboard = new Dashboard(config, wallet, contracts);
  const read = async (): Promise<void> => {
    setPageState("loading");
    try {
      status("Reading your records, requests and audit trail from the ledger…");
      await dashboard.refresh();
      if (document.getElementById("status")?.textContent?.startsWith("Reading")) status("");
      setPageState("ready");
    } catch (error) {
      console.error(error);
      status("");
      showAlert(explain(error, "read"), config, undefined, () => void read());
      setPageState("error");
      (document.querySelector('#alert [data-action="retry"]') as HTMLElement | null)?.focus();
    }
  };
  await read();
}

let listening = false;

void main();
