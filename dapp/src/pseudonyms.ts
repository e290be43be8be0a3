/**
 * The "Pseudonyms" mode: the wallet signs once, the SDK derives one patient account per relationship
 * (a provider, a study), the patient hands a provider a signed pairing link, and the page reads every
 * pseudonym's records, consents, requests and audit as one view (PatientIdentity), each item tagged with
 * the relationship it belongs to. Each pseudonym's emergency opt-out, delegates and (for a study) standing
 * policy are shown and changed here too; one decision (opt out, appoint my carer from the carer's offer)
 * can apply to several pseudonyms, each signing its own change, spread over time so its timing does not
 * join them. Pseudonyms never hold ether: everything they do is signed and goes to the consent relayer
 * (config.relayer); with none configured nothing is offered.
 *
 * The root stays in this page's memory only. The list of relationships (provider addresses, study labels)
 * is kept in localStorage: it holds no key, and losing it loses nothing but the list.
 */
import {
  CARE_DELEGATE_SCOPE,
  createPairingLink,
  DataClass,
  delegatesOf,
  Duo,
  DUO_MODIFIERS,
  DUO_PERMISSIONS,
  DuoDisplay,
  duoMaskOf,
  maskOf,
  policyOf,
  Purpose,
  PurposeDisplay,
  purposeMaskText,
  RESEARCH_PURPOSES,
  SENSITIVE_DATA_CLASSES,
  derivePseudonymRoot,
  describeConsentChange,
  PatientIdentity,
  pseudonymSigner,
  RelayerClient,
  type ActionRoute,
  type ConsentAction,
  type ConsentChange,
  type ConsentState,
  type DataClassName,
  type DataUsePolicy,
  type DuoName,
  type LedgerContracts,
  type PolicyInput,
  type PurposeName,
  type PatientView,
  type Pseudonym,
  type PseudonymRoot,
  type Relationship,
  type RequestView,
  type SpreadProgress,
  type Tagged,
} from "consent-ledger";
import { getAddress, isAddress } from "ethers";
import QRCode from "qrcode";

import type { DappConfig } from "./config";
import { h, mount, type Child } from "./dom";
import { explain, type Explanation } from "./errors";
import { dataClassList, day, prettyName, purposeList, shortAddress } from "./format";
import {
  badge,
  checkAddress,
  checkboxes,
  checkFutureDay,
  dataClassOptions,
  endOfDay,
  errorSlot,
  formValue,
  formValues,
  section,
  showFieldErrors,
  validatePolicy,
  type FieldErrors,
} from "./views";
import type { ConnectedWallet } from "./wallet";

export interface PseudonymPageDeps {
  config: DappConfig;
  wallet: ConnectedWallet;
  contracts: LedgerContracts;
  review: (
    change: ConsentChange,
    confirmLabel: string,
    route: ActionRoute | "sign",
    parts?: readonly ReviewPart[],
  ) => Promise<boolean>;
  status: (text: string, tone?: "info" | "ok" | "error") => void;
  showAlert: (explanation: Explanation | undefined) => void;
  setPageState: (state: "loading" | "ready" | "busy" | "error") => void;
}

/** One of several changes a single decision makes (the same setting on several pseudonyms), as reviewed. */
export interface ReviewPart {
  /** Whose change it is, in words: "with hospital", "study diabetes-2026". */
  label: string;
  change: ConsentChange;
}

/** A pseudonym's own settings, as the ledger holds them: each pseudonym has its own, unlinked. */
interface PseudonymSettings {
  optedOut: boolean;
  policy?: DataUsePolicy;
  delegates: Awaited<ReturnType<typeof delegatesOf>>;
}

const STUDY_LABEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * How one decision's messages are spread over time (PatientIdentity's spreadMs): one per pseudonym, in
 * random order after random delays, so an observer cannot join the pseudonyms by when they acted.
 */
const SPREADS: readonly { value: number; label: string }[] = [
  { value: 15 * 60_000, label: "Spread over up to 15 minutes (keep this page open)" },
  { value: 2 * 60_000, label: "Spread over up to 2 minutes (keep this page open)" },
  { value: 0, label: "All at once: an observer may link these pseudonyms by the timing" },
];

/**
 * Waits for a spread decision with the browser's "leave this page?" prompt armed: leaving stops the
 * messages not yet sent (those sent stay sent).
 */
async function keepingPageOpen<T>(work: Promise<T>): Promise<T> {
  const warn = (event: BeforeUnloadEvent) => event.preventDefault();
  addEventListener("beforeunload", warn);
  try {
    return await work;
  } finally {
    removeEventListener("beforeunload", warn);
  }
}

/** A delegate offer as PatientIdentity takes it: the "cldeleg1.…" payload, or the offer decoded. */
type DelegateOfferInput = Parameters<PatientIdentity["appointDelegate"]>[0];

/**
 * Reads what the carer pasted or uploaded: the offer's payload ("cldeleg1.…"), a JSON string of it,
 * `{ "payload": "cldeleg1.…" }`, or the decoded offer. Only to show, per pseudonym, which of the carer's
 * addresses the review step is about: PatientIdentity checks every signature before anything is sent.
 */
export function readDelegateOffer(
  text: string,
): { offer: DelegateOfferInput; entries: { patient: string; delegate: string }[] } | string {
  const trimmed = text.trim();
  if (!trimmed) return "Paste the delegate offer your carer sent you, or choose its file.";
  let value: unknown = trimmed;
  if (!trimmed.startsWith("cldeleg1.")) {
    try {
      value = JSON.parse(trimmed);
    } catch {
      return "That is not a delegate offer: expected text starting with cldeleg1. or a JSON file of one.";
    }
  }
  if (value && typeof value === "object" && typeof (value as { payload?: unknown }).payload === "string")
    value = (value as { payload: string }).payload;
  if (typeof value === "string") {
    const payload = value.trim();
    if (!payload.startsWith("cldeleg1.")) return "That is not a delegate offer: it does not start with cldeleg1.";
    try {
      const body = payload.slice("cldeleg1.".length).replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(body + "=".repeat((4 - (body.length % 4)) % 4)), (c) => c.charCodeAt(0));
      const raw = JSON.parse(new TextDecoder().decode(bytes)) as { d?: unknown };
      if (!Array.isArray(raw.d)) throw new Error("no entries");
      const entries = raw.d.map((entry: unknown) => {
        const [patient, delegate] = entry as [unknown, unknown];
        if (!isAddress(patient) || !isAddress(delegate)) throw new Error("bad entry");
        return { patient: getAddress(patient as string), delegate: getAddress(delegate as string) };
      });
      return { offer: payload, entries };
    } catch {
      return "That delegate offer is damaged: ask your carer to send it again, unchanged.";
    }
  }
  const entries = (value as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) return "That JSON is not a delegate offer: it has no entries.";
  const read: { patient: string; delegate: string }[] = [];
  for (const entry of entries as { patient?: unknown; delegate?: unknown }[]) {
    if (!isAddress(entry?.patient) || !isAddress(entry?.delegate))
      return "That delegate offer is damaged: ask your carer to send it again, unchanged.";
    read.push({ patient: getAddress(entry.patient as string), delegate: getAddress(entry.delegate as string) });
  }
  return { offer: value as DelegateOfferInput, entries: read };
}

export class PseudonymPage {
  private root?: PseudonymRoot;
  private pseudonyms: Pseudonym[] = [];
  private identity?: PatientIdentity;
  private view?: PatientView;
  private readonly settings = new Map<string, PseudonymSettings>();
  private now = 0;
  private busy = false;
  private readonly links = new Map<string, string>();
  /** Each link's QR code, as the SVG document node-qrcode draws for it. */
  private readonly qrCodes = new Map<string, string>();
  private readonly relayer?: RelayerClient;

  constructor(private readonly deps: PseudonymPageDeps) {
    if (deps.config.relayer) this.relayer = new RelayerClient(new URL(deps.config.relayer, location.href).href);
  }

  /** Where the list of relationships is kept: per wallet, chain and ledger, as the derivation is. */
  private get storageKey(): string {
    const { wallet, contracts } = this.deps;
    return `consent-ledger/pseudonyms/v1/${wallet.chainId}/${contracts.deployment.ledger}/${wallet.address}`.toLowerCase();
  }

  private storedRelationships(): Relationship[] {
    try {
      const parsed = JSON.parse(localStorage.getItem(this.storageKey) ?? "[]") as Relationship[];
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  private nameOf(address: string): string {
    return this.deps.config.labels[address.toLowerCase()] ?? shortAddress(address);
  }

  /** "at hospital", "study diabetes-2026": which relationship a pseudonym is for, in words. */
  relationshipText(id: string): string {
    if (id.startsWith("provider:")) return `with ${this.nameOf(id.slice("provider:".length))}`;
    if (id.startsWith("study:")) return `study ${id.slice("study:".length)}`;
    return `pseudonym #${id.slice("index:".length)}`;
  }

  start(): void {
    this.deps.setPageState("ready");
    this.render();
  }

  private async derive(): Promise<void> {
    await this.run("Asking your wallet for the one signature your pseudonyms come from…", async () => {
      const { wallet, contracts } = this.deps;
      this.root = await derivePseudonymRoot(wallet.signer, {
        domain: location.host,
        chainId: wallet.chainId,
        ledger: contracts.deployment.ledger,
      });
      this.pseudonyms = [];
      for (const relationship of this.storedRelationships()) {
        try {
          this.pseudonyms.push(this.root.derive(relationship));
        } catch {
          // A malformed stored entry is skipped: the list holds no key, and the patient can add it again.
        }
      }
      await this.read();
      return "Your pseudonyms are derived. Nothing was sent and no gas was spent.";
    });
  }

  private async add(relationship: Relationship): Promise<void> {
    if (!this.root) return;
    const pseudonym = this.root.derive(relationship);
    if (!this.pseudonyms.some((known) => known.id === pseudonym.id)) {
      this.pseudonyms.push(pseudonym);
      localStorage.setItem(this.storageKey, JSON.stringify(this.pseudonyms.map((item) => item.relationship)));
    }
    await this.run("Reading the new pseudonym from the ledger…", async () => {
      if (relationship.kind === "provider") await this.makeLink(pseudonym);
      await this.read();
      return `Pseudonym ${pseudonym.address} is ready for ${this.relationshipText(pseudonym.id).replace(/^with /, "")}.`;
    });
  }

  private async makeLink(pseudonym: Pseudonym): Promise<void> {
    if (pseudonym.relationship.kind !== "provider") return;
    const { payload } = await createPairingLink(pseudonymSigner(pseudonym), {
      provider: pseudonym.relationship.provider,
      encryptionPublicKey: pseudonym.encryptionKeyPair.publicKey,
      chainId: this.deps.wallet.chainId,
      ledger: this.deps.contracts.deployment.ledger,
    });
    this.qrCodes.set(pseudonym.id, await pairingQrSvg(payload));
    this.links.set(pseudonym.id, payload);
  }

  private async read(): Promise<void> {
    if (this.pseudonyms.length === 0) {
      this.identity = undefined;
      this.view = undefined;
      return;
    }
    this.identity = new PatientIdentity(this.deps.contracts, this.pseudonyms, { relayer: this.relayer });
    const contracts = this.deps.contracts;
    const [view, block, settings] = await Promise.all([
      this.identity.view(),
      contracts.provider.getBlock("latest"),
      Promise.all(
        this.pseudonyms.map(async (pseudonym): Promise<[string, PseudonymSettings]> => {
          const [optedOut, policy, delegates] = await Promise.all([
            contracts.ledger.emergencyOptedOut(pseudonym.address),
            policyOf(contracts, pseudonym.address),
            delegatesOf(contracts, pseudonym.address),
          ]);
          return [pseudonym.address, { optedOut: Boolean(optedOut), policy, delegates }];
        }),
      ),
    ]);
    this.settings.clear();
    for (const [address, entry] of settings) this.settings.set(address, entry);
    this.view = view;
    this.now = block?.timestamp ?? Math.floor(Date.now() / 1000);
  }

  /** One action: buttons off, progress in the status line, a failure explained, then the page again. */
  private async run(doing: string, work: () => Promise<string>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.deps.setPageState("busy");
    this.deps.showAlert(undefined);
    this.deps.status(doing);
    this.render();
    try {
      const done = await work();
      this.deps.status(done, "ok");
    } catch (error) {
      console.error(error);
      this.deps.status("");
      this.deps.showAlert(explain(error, "transaction"));
    } finally {
      this.busy = false;
      this.deps.setPageState("ready");
      this.render();
    }
  }

  private change(action: ConsentAction, pseudonym: string): ConsentChange {
    const party = "grantee" in action ? action.grantee : "request" in action ? action.request.researcher : undefined;
    const consent = this.view?.consents.find(
      (item) => item.pseudonym === pseudonym && party && item.grantee.toLowerCase() === party.toLowerCase(),
    );
    return describeConsentChange(action, { now: this.now, consent }, { nameOf: (a) => this.nameOf(a), dayOf: day });
  }

  /** The same review step as the main dashboard, then the pseudonym signs and the relayer sends. */
  private async act(
    action: ConsentAction,
    item: { pseudonym: string; relationship: string },
    confirmLabel: string,
    send: () => Promise<{ wait(): Promise<unknown> }>,
    done: string,
  ): Promise<void> {
    if (this.busy || !this.identity) return;
    // A pseudonym acts only through the relayer (it holds no ether), and only with a signed form.
    const confirmed = await this.deps.review(this.change(action, item.pseudonym), confirmLabel, "relayer");
    if (!confirmed) return;
    await this.run(
      `Signing as your pseudonym ${this.relationshipText(item.relationship)}; the relayer sends it…`,
      async () => {
        const pending = await send();
        await pending.wait();
        await this.read();
        return `${done} The relayer paid the gas; your pseudonym holds no ether.`;
      },
    );
  }

  /** What `action` changes on one pseudonym, from that pseudonym's own settings. */
  private settingChange(action: ConsentAction, pseudonym: string): ConsentChange {
    const settings = this.settings.get(pseudonym);
    const party = "delegate" in action ? action.delegate.toLowerCase() : undefined;
    const state: ConsentState = {
      now: this.now,
      policy: settings?.policy,
      optedOut: settings?.optedOut,
      delegateUntil: party
        ? settings?.delegates.find((item) => item.delegate.toLowerCase() === party)?.validUntil
        : undefined,
    };
    return describeConsentChange(action, state, { nameOf: (a) => this.nameOf(a), dayOf: day });
  }

  /**
   * One decision on one or more pseudonyms: the review step shows each pseudonym's change, and on
   * Confirm each pseudonym signs its own and the relayer sends them (`send`). No pseudonym pays gas.
   */
  private async decide(
    title: string,
    changes: { pseudonym: Pseudonym; action: ConsentAction }[],
    confirmLabel: string,
    send: () => Promise<void>,
    done: string,
    notes: string[] = [],
  ): Promise<void> {
    if (this.busy || !this.identity || changes.length === 0) return;
    const parts: ReviewPart[] = changes.map(({ pseudonym, action }) => ({
      label: this.relationshipText(pseudonym.id),
      change: this.settingChange(action, pseudonym.address),
    }));
    const unique = <T>(lists: T[][]) => [...new Set(lists.flat())];
    const first = parts[0].change;
    const summary: ConsentChange =
      parts.length === 1
        ? { ...first, notes: [...first.notes, ...notes] }
        : {
            ...first,
            title,
            notes: [...unique(parts.map((part) => part.change.notes)), ...notes],
            cannotUndo: unique(parts.map((part) => part.change.cannotUndo)),
            flagged: unique(parts.map((part) => part.change.flagged)),
          };
    const confirmed = await this.deps.review(summary, confirmLabel, "relayer", parts.length > 1 ? parts : undefined);
    if (!confirmed) return;
    const who =
      changes.length === 1
        ? `your pseudonym ${this.relationshipText(changes[0].pseudonym.id)}`
        : `each of ${changes.length} pseudonyms`;
    await this.run(`Signing as ${who}; the relayer sends it…`, async () => {
      try {
        await send();
      } catch (error) {
        // Some pseudonyms may have changed before one failed (SpreadActionError names which): show them.
        await this.read().catch(() => undefined);
        throw error;
      }
      await this.read();
      return `${done} The relayer paid the gas; your pseudonyms hold no ether.`;
    });
  }

  /** Sends one pseudonym's relayed action and waits for it to be mined. */
  private static async mined(pending: Promise<{ wait(): Promise<unknown> }>): Promise<void> {
    await (await pending).wait();
  }

  render(): void {
    const main: Child[] = [this.renderPseudonyms()];
    const side: Child[] = [];
    if (this.view) {
      main.push(
        this.renderRequests(this.view.requests),
        this.renderConsents(this.view),
        this.renderGrantForm(),
        this.renderSettings(),
        this.renderRecords(this.view),
      );
      side.push(this.renderAudit(this.view));
    }
    mount("summary");
    mount("col-main", ...main);
    mount("col-side", ...side);
  }

  private renderPseudonyms(): HTMLElement {
    if (!this.root) {
      return section(
        "pseudonyms",
        "Your pseudonyms",
        "A separate patient address for each provider and study, so no one can join up your relationships on the public ledger.",
        h(
          "p",
          null,
          "Your wallet signs one message (no transaction, no gas). Every pseudonym follows from that signature, so they come back whenever you sign again with the same wallet.",
        ),
        h(
          "button",
          {
            class: "primary",
            id: "derive-pseudonyms",
            "data-action": "derive",
            disabled: this.busy,
            onclick: () => void this.derive(),
          },
          "Derive my pseudonyms",
        ),
      );
    }
    const rows = this.pseudonyms.map((pseudonym) => {
      const link = this.links.get(pseudonym.id);
      const linkId = `link-${pseudonym.address.slice(2, 10).toLowerCase()}`;
      return h(
        "li",
        {
          class: "pseudonym",
          "data-testid": "pseudonym",
          "data-relationship": pseudonym.id,
          "data-address": pseudonym.address,
        },
        h("strong", null, this.relationshipText(pseudonym.id)),
        " ",
        h("code", { title: pseudonym.address }, pseudonym.address),
        pseudonym.relationship.kind === "provider"
          ? link
            ? h(
                "div",
                { class: "pairing" },
                h("label", { for: linkId }, `Pairing link for ${this.nameOf(pseudonym.relationship.provider)}`),
                pairingQr(
                  this.qrCodes.get(pseudonym.id),
                  `QR code of the pairing link for ${this.nameOf(pseudonym.relationship.provider)}: the provider scans it instead of copying the link`,
                ),
                h("textarea", { id: linkId, readonly: true, rows: 3, "data-testid": "pairing-link" }, link),
                h(
                  "button",
                  {
                    class: "small",
                    "data-action": "copy-link",
                    "aria-label": `Copy the pairing link for ${this.nameOf(pseudonym.relationship.provider)}`,
                    onclick: (event: Event) => {
                      const button = event.currentTarget as HTMLButtonElement;
                      void navigator.clipboard
                        ?.writeText(link)
                        .then(() => (button.textContent = "Copied"))
                        .catch(() => (document.getElementById(linkId) as HTMLTextAreaElement | null)?.select());
                    },
                  },
                  "Copy",
                ),
              )
            : h(
                "button",
                {
                  class: "small",
                  "data-action": "make-link",
                  disabled: this.busy,
                  "aria-label": `Show a pairing link for ${this.nameOf(pseudonym.relationship.provider)}`,
                  onclick: () =>
                    void this.run(
                      "Signing a pairing link…",
                      async () => (
                        await this.makeLink(pseudonym),
                        "The pairing link is below: give it to the provider."
                      ),
                    ),
                },
                "Pairing link",
              )
          : h("p", { class: "note" }, "Give this address to the study's researcher: it is the only one they will see."),
      );
    });
    const form = h(
      "form",
      {
        id: "pseudonym-form",
        class: "grant-form",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          const target = event.currentTarget as HTMLFormElement;
          const kind = (target.elements.namedItem("kind") as HTMLSelectElement).value;
          const value = (target.elements.namedItem("party") as HTMLInputElement).value.trim();
          const error = target.querySelector<HTMLElement>('[data-testid="pseudonym-form-error"]') as HTMLElement;
          let relationship: Relationship;
          if (kind === "provider") {
            if (!isAddress(value)) {
              error.textContent = `"${value}" is not a provider address (0x followed by 40 hexadecimal digits).`;
              return;
            }
            relationship = { kind: "provider", provider: getAddress(value) };
          } else {
            if (!STUDY_LABEL.test(value)) {
              error.textContent = "A study label is 1 to 64 lowercase letters, digits, '.', '_' or '-'.";
              return;
            }
            relationship = { kind: "study", label: value };
          }
          error.textContent = "";
          void this.add(relationship);
        },
      },
      h(
        "label",
        null,
        "For ",
        h(
          "select",
          { name: "kind", id: "pseudonym-kind" },
          h("option", { value: "provider" }, "a provider"),
          h("option", { value: "study" }, "a study"),
        ),
      ),
      h(
        "label",
        null,
        "Provider address or study label ",
        h("input", { name: "party", id: "pseudonym-party", autocomplete: "off", spellcheck: "false" }),
      ),
      h(
        "button",
        { class: "primary", type: "submit", "data-action": "add-pseudonym", disabled: this.busy },
        "Create pseudonym",
      ),
      h("p", { class: "field-error", role: "alert", "data-testid": "pseudonym-form-error" }),
    );
    return section(
      "pseudonyms",
      "Your pseudonyms",
      "Each relationship sees its own address. Only this page, with your signature, joins them up.",
      this.relayer
        ? null
        : h(
            "p",
            { class: "note warn", "data-testid": "no-relayer" },
            "No relayer is configured: your pseudonyms can be read here but cannot act, since a pseudonym that pays its own gas is linked by its funding.",
          ),
      rows.length
        ? h("ul", { class: "pseudonyms" }, rows)
        : h("p", { class: "empty" }, "No pseudonyms yet: create one for a provider or a study."),
      form,
    );
  }

  private tag(item: { pseudonym: string; relationship: string }): HTMLElement {
    return h(
      "span",
      { class: "badge info", "data-testid": "relationship", title: item.pseudonym },
      this.relationshipText(item.relationship),
    );
  }

  private renderRequests(requests: Tagged<RequestView>[]): HTMLElement {
    const items = requests.map((view) =>
      h(
        "li",
        {
          "data-testid": "pseudonym-request",
          "data-relationship": view.relationship,
          "data-request-id": view.requestId,
        },
        this.tag(view),
        ` ${this.nameOf(view.request.researcher)} asks for ${dataClassList(view.request.terms.dataClasses)}, ${purposeList(1 << view.request.terms.purpose)} `,
        h(
          "span",
          { class: "buttons" },
          h(
            "button",
            {
              class: "primary small",
              "data-action": "approve",
              disabled: this.busy || !this.relayer,
              "aria-label": `Approve ${this.nameOf(view.request.researcher)}'s request (${this.relationshipText(view.relationship)})`,
              onclick: () =>
                void this.act(
                  { kind: "approve", request: view.request },
                  view,
                  "Approve",
                  () => (this.identity as PatientIdentity).client(view.pseudonym).approve(view.request),
                  "Request approved.",
                ),
            },
            "Approve",
          ),
          h(
            "button",
            {
              class: "danger small",
              "data-action": "deny",
              disabled: this.busy || !this.relayer,
              "aria-label": `Deny ${this.nameOf(view.request.researcher)}'s request (${this.relationshipText(view.relationship)})`,
              onclick: () =>
                void this.act(
                  { kind: "deny", request: view.request },
                  view,
                  "Deny",
                  () => (this.identity as PatientIdentity).client(view.pseudonym).deny(view.request),
                  "Request denied.",
                ),
            },
            "Deny",
          ),
        ),
      ),
    );
    return section(
      "pseudonym-requests",
      "Requests to your pseudonyms",
      null,
      items.length ? h("ul", { class: "plain" }, items) : h("p", { class: "empty" }, "No pending requests."),
    );
  }

  private renderConsents(view: PatientView): HTMLElement {
    const items = view.consents.map((consent) =>
      h(
        "li",
        {
          "data-testid": "pseudonym-consent",
          "data-relationship": consent.relationship,
          "data-grantee": consent.grantee,
        },
        this.tag(consent),
        ` ${this.nameOf(consent.grantee)} may see ${dataClassList(consent.dataClasses)} for ${purposeList(consent.purposes)}, until ${day(consent.validUntil)} `,
        h(
          "button",
          {
            class: "danger small",
            "data-action": "revoke",
            disabled: this.busy || !this.relayer,
            "aria-label": `Revoke ${this.nameOf(consent.grantee)}'s access (${this.relationshipText(consent.relationship)})`,
            onclick: () =>
              void this.act(
                { kind: "revoke", grantee: consent.grantee },
                consent,
                "Revoke",
                () => (this.identity as PatientIdentity).client(consent.pseudonym).revoke(consent.grantee),
                "Access revoked.",
              ),
          },
          "Revoke",
        ),
      ),
    );
    return section(
      "pseudonym-consents",
      "Who may see your records",
      null,
      items.length ? h("ul", { class: "plain" }, items) : h("p", { class: "empty" }, "No consents in force."),
    );
  }

  /** A direct grant from one pseudonym: one data class, one purpose, until a day; reviewed, then relayed. */
  private renderGrantForm(): HTMLElement {
    const form = h(
      "form",
      {
        id: "pseudonym-grant-form",
        class: "grant-form",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          const target = event.currentTarget as HTMLFormElement;
          const value = (name: string) =>
            (target.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value.trim();
          const error = target.querySelector<HTMLElement>('[data-testid="pseudonym-grant-error"]') as HTMLElement;
          const pseudonym = this.pseudonyms.find((item) => item.address === value("as"));
          const grantee = value("grantee");
          const until = Date.parse(`${value("until")}T23:59:59Z`) / 1000;
          if (!pseudonym) return void (error.textContent = "Choose which pseudonym gives the access.");
          if (!isAddress(grantee))
            return void (error.textContent = `"${grantee}" is not an address (0x followed by 40 hexadecimal digits).`);
          if (!Number.isFinite(until) || until <= this.now)
            return void (error.textContent = "Choose an end day after today.");
          error.textContent = "";
          const dataClass = value("dataClass") as keyof typeof DataClass;
          const purpose = value("purpose") as keyof typeof Purpose;
          const item = { pseudonym: pseudonym.address, relationship: pseudonym.id };
          void this.act(
            {
              kind: "grant",
              grantee: getAddress(grantee),
              dataClasses: 1 << DataClass[dataClass],
              purposes: 1 << Purpose[purpose],
              validFrom: this.now,
              validUntil: until,
            },
            item,
            "Grant access",
            () =>
              (this.identity as PatientIdentity).client(pseudonym.address).grant({
                grantee: getAddress(grantee),
                dataClasses: [dataClass],
                purposes: [purpose],
                validUntil: until,
              }),
            "Access granted.",
          );
        },
      },
      h(
        "label",
        null,
        "As ",
        h(
          "select",
          { name: "as", id: "pseudonym-grant-as" },
          this.pseudonyms.map((item) => h("option", { value: item.address }, this.relationshipText(item.id))),
        ),
      ),
      h(
        "label",
        null,
        "Grantee address ",
        h("input", { name: "grantee", id: "pseudonym-grant-grantee", autocomplete: "off", spellcheck: "false" }),
      ),
      h(
        "label",
        null,
        "Data ",
        h(
          "select",
          { name: "dataClass", id: "pseudonym-grant-class" },
          Object.keys(DataClass).map((name) =>
            h("option", { value: name }, dataClassList(1 << DataClass[name as keyof typeof DataClass])),
          ),
        ),
      ),
      h(
        "label",
        null,
        "Purpose ",
        h(
          "select",
          { name: "purpose", id: "pseudonym-grant-purpose" },
          Object.keys(Purpose).map((name) =>
            h("option", { value: name }, purposeList(1 << Purpose[name as keyof typeof Purpose])),
          ),
        ),
      ),
      h("label", null, "Until ", h("input", { type: "date", name: "until", id: "pseudonym-grant-until" })),
      h(
        "button",
        { class: "primary", type: "submit", "data-action": "grant", disabled: this.busy || !this.relayer },
        "Review the grant",
      ),
      h("p", { class: "field-error", role: "alert", "data-testid": "pseudonym-grant-error" }),
    );
    return section(
      "pseudonym-grant",
      "Give access from a pseudonym",
      "The pseudonym signs; the relayer pays the gas.",
      form,
    );
  }

  /**
   * Each pseudonym's emergency opt-out, delegates and standing policy, and the forms that change them:
   * one decision may apply to several pseudonyms, each of which signs its own change (the ledger sees
   * unrelated accounts), all reviewed together and sent by the relayer.
   */
  private renderSettings(): HTMLElement {
    const rows = this.pseudonyms.map((pseudonym) => {
      const settings = this.settings.get(pseudonym.address);
      const label = this.relationshipText(pseudonym.id);
      const item = { pseudonym: pseudonym.address, relationship: pseudonym.id };
      return h(
        "li",
        {
          "data-testid": "pseudonym-setting",
          "data-relationship": pseudonym.id,
          "data-opted-out": String(settings?.optedOut ?? false),
        },
        this.tag(item),
        " ",
        h(
          "span",
          { "data-testid": "pseudonym-emergency" },
          settings?.optedOut ? badge("emergency access: opted out", "warn") : badge("emergency access: allowed", "ok"),
        ),
        h(
          "ul",
          { class: "plain" },
          (settings?.delegates ?? []).map((delegate) =>
            h(
              "li",
              { "data-testid": "pseudonym-delegate", "data-delegate": delegate.delegate },
              `Delegate ${this.nameOf(delegate.delegate)} until ${day(delegate.validUntil)}, may grant for ${purposeMaskText(delegate.purposes)} `,
              h(
                "button",
                {
                  class: "danger small",
                  "data-action": "remove-delegate",
                  disabled: this.busy || !this.relayer,
                  "aria-label": `Remove ${this.nameOf(delegate.delegate)} as the delegate of your pseudonym ${label}`,
                  onclick: () =>
                    void this.decide(
                      "Remove the delegate",
                      [{ pseudonym, action: { kind: "remove-delegate", delegate: delegate.delegate } }],
                      "Remove the delegate",
                      () =>
                        PseudonymPage.mined(
                          (this.identity as PatientIdentity)
                            .client(pseudonym.address)
                            .removeDelegate(delegate.delegate),
                        ),
                      "Delegate removed.",
                    ),
                },
                "Remove",
              ),
            ),
          ),
          settings?.policy
            ? h(
                "li",
                { "data-testid": "pseudonym-policy" },
                `Standing policy: approves requests for ${this.duoText(settings.policy.permission)}, ${dataClassList(settings.policy.dataClasses)}, ${purposeList(settings.policy.purposes)}, until ${settings.policy.validUntil ? day(settings.policy.validUntil) : "you clear it"} `,
                h(
                  "button",
                  {
                    class: "danger small",
                    "data-action": "clear-policy",
                    disabled: this.busy || !this.relayer,
                    "aria-label": `Clear policy of your pseudonym ${label}`,
                    onclick: () =>
                      void this.decide(
                        "Clear the policy",
                        [{ pseudonym, action: { kind: "clear-policy" } }],
                        "Clear the policy",
                        () =>
                          PseudonymPage.mined(
                            (this.identity as PatientIdentity).client(pseudonym.address).clearPolicy(),
                          ),
                        "The standing policy is cleared.",
                      ),
                  },
                  "Clear policy",
                ),
              )
            : null,
        ),
      );
    });
    return section(
      "pseudonym-settings",
      "Emergency access, delegates and policies",
      "Each pseudonym has its own settings. One decision can change several: each pseudonym signs its own change and the relayer sends them, so the ledger still sees unrelated accounts.",
      h("ul", { class: "plain pseudonym-settings" }, rows),
      this.renderEmergencyForm(),
      this.renderCarerForm(),
      this.renderDelegateForm(),
      this.renderPolicyForm(),
    );
  }

  private duoText(code: number): string {
    const name = (Object.keys(Duo) as DuoName[]).find((key) => Duo[key] === code);
    return name ? DuoDisplay[name] : `DUO ${code}`;
  }

  /** Ticked pseudonyms to apply a decision to: all of them unless the patient unticks some. */
  private applyTo(form: string, legend: string): HTMLElement {
    return h(
      "fieldset",
      null,
      h("legend", null, legend),
      checkboxes(
        "apply",
        this.pseudonyms.map((item) => ({ value: item.address, label: this.relationshipText(item.id) })),
        () => true,
      ),
      errorSlot(form, "apply"),
    );
  }

  private spreadChoice(form: string): HTMLElement {
    return h(
      "div",
      { class: "field" },
      h("label", { for: `${form}-spread` }, "How to send"),
      h(
        "select",
        { id: `${form}-spread`, name: "spread" },
        SPREADS.map((choice, index) =>
          h("option", { value: String(choice.value), selected: index === 0 }, choice.label),
        ),
      ),
    );
  }

  /** The review step's words for a spread over `spreadMs` of `count` messages. */
  private static spreadNote(count: number, spreadMs: number): string[] {
    if (count < 2) return [];
    if (spreadMs === 0)
      return [
        `All ${count} messages are sent at once: anyone watching the chain may link these pseudonyms by their timing.`,
      ];
    return [
      `Sent one by one in random order over up to ${Math.round(spreadMs / 60_000)} minutes, so their timing does not link your pseudonyms. Keep this page open until it says done.`,
    ];
  }

  /** PatientIdentity's progress on a spread decision, in the status line. */
  private progress(count: number): (event: SpreadProgress) => void {
    let done = 0;
    return (event) => {
      if (event.state === "done") done++;
      if (event.state !== "failed")
        this.deps.status(`${done} of ${count} confirmed; the relayer sends each when its turn comes…`);
    };
  }

  private ticked(form: HTMLFormElement): Pseudonym[] {
    const chosen = new Set(formValues(form, "apply"));
    return this.pseudonyms.filter((item) => chosen.has(item.address));
  }

  private renderEmergencyForm(): HTMLElement {
    const submit = (form: HTMLFormElement, optedOut: boolean) => {
      const chosen = this.ticked(form);
      const changing = chosen.filter((item) => this.settings.get(item.address)?.optedOut !== optedOut);
      const errors: FieldErrors = {};
      if (chosen.length === 0) errors.apply = "Tick at least one pseudonym.";
      else if (changing.length === 0)
        errors.apply = optedOut
          ? "Every pseudonym ticked is already opted out."
          : "Every pseudonym ticked already allows emergency access.";
      showFieldErrors(form, errors);
      if (Object.keys(errors).length) return;
      const spreadMs = Number(formValue(form, "spread"));
      void this.decide(
        optedOut
          ? `Opt out of emergency access on ${changing.length} pseudonyms`
          : `Allow emergency access on ${changing.length} pseudonyms`,
        changing.map((pseudonym) => ({ pseudonym, action: { kind: "emergency-opt-out", optedOut } })),
        optedOut ? "Opt out of emergency access" : "Allow emergency access",
        () => this.sendOptOut(changing, optedOut, spreadMs),
        optedOut
          ? `Opted out of emergency access on ${changing.length === 1 ? "1 pseudonym" : `${changing.length} pseudonyms`}.`
          : `Emergency access allowed again on ${changing.length === 1 ? "1 pseudonym" : `${changing.length} pseudonyms`}.`,
        PseudonymPage.spreadNote(changing.length, spreadMs),
      );
    };
    const form: HTMLFormElement = h(
      "form",
      {
        id: "pseudonym-emergency-form",
        class: "grant-form",
        novalidate: true,
        onsubmit: (e: Event) => e.preventDefault(),
      },
      h("h3", null, "Emergency access"),
      this.applyTo("pseudonym-emergency-form", "Apply to"),
      this.spreadChoice("pseudonym-emergency-form"),
      h(
        "div",
        { class: "buttons" },
        h(
          "button",
          {
            type: "button",
            class: "danger",
            "data-action": "opt-out",
            disabled: this.busy || !this.relayer,
            onclick: () => submit(form, true),
          },
          "Opt out of emergency access",
        ),
        h(
          "button",
          {
            type: "button",
            "data-action": "opt-in",
            disabled: this.busy || !this.relayer,
            onclick: () => submit(form, false),
          },
          "Allow emergency access",
        ),
      ),
    ) as HTMLFormElement;
    return form;
  }

  /**
   * Each chosen pseudonym signs its own opt-out and the relayer sends them (PatientIdentity's
   * setEmergencyOptOut), spread over `spreadMs` in random order, each after the previous is mined.
   */
  private async sendOptOut(pseudonyms: Pseudonym[], optedOut: boolean, spreadMs: number): Promise<void> {
    const action = await (this.identity as PatientIdentity).setEmergencyOptOut(optedOut, {
      pseudonyms: pseudonyms.map((item) => item.address),
      spreadMs: pseudonyms.length > 1 ? spreadMs : 0,
      onProgress: this.progress(pseudonyms.length),
    });
    await keepingPageOpen(action.wait());
  }

  /**
   * "Appoint my carer on all my pseudonyms": from the carer's delegate offer, which gives a different
   * address of the carer's for each pseudonym (PatientIdentity.appointDelegate checks its signatures),
   * so nothing on chain joins the pseudonyms through their delegate. A carer's scope, until a day.
   */
  private renderCarerForm(): HTMLElement {
    const formId = "pseudonym-carer-form";
    const form = h(
      "form",
      {
        id: formId,
        class: "grant-form",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          const target = event.currentTarget as HTMLFormElement;
          const errors: FieldErrors = {};
          const read = readDelegateOffer(formValue(target, "offer"));
          if (typeof read === "string") errors.offer = read;
          const chosen = this.ticked(target);
          if (chosen.length === 0) errors.apply = "Tick at least one pseudonym.";
          const byPatient = new Map(typeof read === "string" ? [] : read.entries.map((e) => [e.patient, e.delegate]));
          const uncovered = typeof read === "string" ? [] : chosen.filter((item) => !byPatient.has(item.address));
          if (uncovered.length)
            errors.apply = `The offer does not cover ${uncovered.map((item) => this.relationshipText(item.id)).join(", ")}: untick it or ask your carer for an offer that does.`;
          // A whole UTC day (the start of the day chosen), the same on every pseudonym: PatientIdentity
          // rounds a shared end down to one so that no end to the second is common to the pseudonyms.
          const validUntil = new Date(`${formValue(target, "until")}T00:00:00Z`);
          if (Number.isNaN(validUntil.getTime())) errors.until = "Choose the day it ends.";
          else if (validUntil.getTime() / 1000 <= this.now)
            errors.until = `Choose a day after ${day(this.now)}: the appointment ends at the start of that day (UTC).`;
          showFieldErrors(target, errors);
          if (typeof read === "string" || Object.keys(errors).length) return;
          const spreadMs = Number(formValue(target, "spread"));
          const purposes = maskOf(
            (CARE_DELEGATE_SCOPE.purposes as readonly PurposeName[]).map((name) => Purpose[name]),
          );
          void this.decide(
            `Appoint your carer on ${chosen.length} pseudonyms`,
            chosen.map((pseudonym) => ({
              pseudonym,
              action: {
                kind: "appoint-delegate",
                delegate: byPatient.get(pseudonym.address) as string,
                validUntil: Math.floor(validUntil.getTime() / 1000),
                purposes,
                sensitiveClasses: CARE_DELEGATE_SCOPE.sensitiveClasses,
              },
            })),
            "Appoint my carer",
            async () => {
              const action = await (this.identity as PatientIdentity).appointDelegate(
                read.offer,
                validUntil,
                CARE_DELEGATE_SCOPE,
                {
                  pseudonyms: chosen.map((item) => item.address),
                  spreadMs: chosen.length > 1 ? spreadMs : 0,
                  onProgress: this.progress(chosen.length),
                },
              );
              await keepingPageOpen(action.wait());
            },
            `Your carer is appointed on ${chosen.length === 1 ? "1 pseudonym" : `${chosen.length} pseudonyms`}.`,
            [
              "Your carer has a different address for each pseudonym (from their offer), so the ledger does not show one person acting for all of them.",
              ...PseudonymPage.spreadNote(chosen.length, spreadMs),
            ],
          );
        },
      },
      h("h3", null, "Appoint my carer on all my pseudonyms"),
      h(
        "p",
        { class: "note" },
        "Your carer's app makes a delegate offer for your pseudonyms: a different address of theirs for each one. Paste it or choose its file.",
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-carer-offer" }, "Delegate offer"),
        h("textarea", {
          id: "pseudonym-carer-offer",
          name: "offer",
          rows: 3,
          autocomplete: "off",
          spellcheck: "false",
        }),
        errorSlot(formId, "offer"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-carer-file" }, "Or the offer's file (JSON)"),
        h("input", {
          id: "pseudonym-carer-file",
          type: "file",
          accept: ".json,.txt,application/json,text/plain",
          onchange: (event: Event) => {
            const file = (event.currentTarget as HTMLInputElement).files?.[0];
            if (!file) return;
            void file.text().then((text) => {
              (form.querySelector("#pseudonym-carer-offer") as HTMLTextAreaElement).value = text.slice(0, 100_000);
            });
          },
        }),
      ),
      this.applyTo(formId, "Appoint on"),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-carer-until" }, "Ends on (at the start of that day, UTC)"),
        h("input", { id: "pseudonym-carer-until", type: "date", name: "until" }),
        errorSlot(formId, "until"),
      ),
      this.spreadChoice(formId),
      h(
        "button",
        { type: "submit", "data-action": "appoint-carer", disabled: this.busy || !this.relayer },
        "Review the appointments",
      ),
    );
    return form;
  }

  /**
   * A delegate for one pseudonym, with a carer's scope. One address is appointed on one pseudonym only:
   * the same delegate on two pseudonyms would link them on the ledger.
   */
  private renderDelegateForm(): HTMLElement {
    const formId = "pseudonym-delegate-form";
    return h(
      "form",
      {
        id: formId,
        class: "grant-form",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          const form = event.currentTarget as HTMLFormElement;
          const pseudonym = this.pseudonyms.find((item) => item.address === formValue(form, "as"));
          const delegate = formValue(form, "delegate");
          const errors: FieldErrors = {};
          const badAddress = checkAddress(delegate, pseudonym?.address ?? "", "the delegate");
          if (badAddress) errors.delegate = badAddress;
          else if (this.pseudonyms.some((item) => item.address.toLowerCase() === delegate.toLowerCase()))
            errors.delegate = "That is one of your own pseudonyms: appointing it would link the two on the ledger.";
          const badDay = checkFutureDay(formValue(form, "until"), this.now);
          if (badDay) errors.until = badDay;
          showFieldErrors(form, errors);
          if (!pseudonym || Object.keys(errors).length) return;
          const validUntil = endOfDay(formValue(form, "until")) as Date;
          const who = getAddress(delegate);
          void this.decide(
            "Appoint a delegate",
            [
              {
                pseudonym,
                action: {
                  kind: "appoint-delegate",
                  delegate: who,
                  validUntil: Math.floor(validUntil.getTime() / 1000),
                  purposes: maskOf(
                    (CARE_DELEGATE_SCOPE.purposes as readonly PurposeName[]).map((name) => Purpose[name]),
                  ),
                  sensitiveClasses: CARE_DELEGATE_SCOPE.sensitiveClasses,
                },
              },
            ],
            "Appoint the delegate",
            () =>
              PseudonymPage.mined(
                (this.identity as PatientIdentity)
                  .client(pseudonym.address)
                  .appointDelegate(who, validUntil, CARE_DELEGATE_SCOPE),
              ),
            "Delegate appointed.",
          );
        },
      },
      h("h3", null, "A delegate for one pseudonym"),
      h(
        "p",
        { class: "note" },
        "A carer who may grant and approve for this pseudonym until the day you choose. Give each pseudonym a different delegate address: the same one on two pseudonyms links them.",
      ),
      h(
        "label",
        null,
        "For ",
        h(
          "select",
          { name: "as", id: "pseudonym-delegate-as" },
          this.pseudonyms.map((item) => h("option", { value: item.address }, this.relationshipText(item.id))),
        ),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-delegate-address" }, "Delegate's address"),
        h("input", { id: "pseudonym-delegate-address", name: "delegate", autocomplete: "off", spellcheck: "false" }),
        errorSlot(formId, "delegate"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-delegate-until" }, "Until (last day)"),
        h("input", { id: "pseudonym-delegate-until", type: "date", name: "until" }),
        errorSlot(formId, "until"),
      ),
      h(
        "button",
        { type: "submit", "data-action": "add-delegate", disabled: this.busy || !this.relayer },
        "Review the delegate",
      ),
    );
  }

  /**
   * The standing data-use policy of a study pseudonym: requests to it that fit are approved at once,
   * so a researcher reaches the pseudonym the patient exposed for the study, and nothing else.
   */
  private renderPolicyForm(): HTMLElement {
    const formId = "pseudonym-policy-form";
    const studies = this.pseudonyms.filter((item) => item.relationship.kind === "study");
    if (studies.length === 0)
      return h(
        "p",
        { class: "note", "data-testid": "pseudonym-policy-none" },
        "Create a pseudonym for a study to give it a standing data-use policy.",
      );
    const form = h(
      "form",
      {
        id: formId,
        class: "grant-form",
        novalidate: true,
        onsubmit: (event: Event) => {
          event.preventDefault();
          const target = event.currentTarget as HTMLFormElement;
          const pseudonym = studies.find((item) => item.address === formValue(target, "as"));
          const errors = validatePolicy(target, this.now);
          showFieldErrors(target, errors);
          if (!pseudonym || Object.keys(errors).length) return;
          const maxDays = formValue(target, "maxDays");
          const diseaseId = formValue(target, "diseaseId");
          const input: PolicyInput = {
            permission: formValue(target, "permission") as DuoName,
            modifiers: formValues(target, "modifier") as DuoName[],
            dataClasses: formValues(target, "dataClass") as DataClassName[],
            purposes: formValues(target, "purpose") as PurposeName[],
            maxDuration: maxDays ? Math.round(Number(maxDays) * 86400) : undefined,
            diseaseId: diseaseId ? Number(diseaseId) : undefined,
            validUntil: endOfDay(formValue(target, "until")),
          };
          const until = input.validUntil as Date | undefined;
          void this.decide(
            "Set the study's standing policy",
            [
              {
                pseudonym,
                action: {
                  kind: "set-policy",
                  policy: {
                    permission: Duo[input.permission as DuoName],
                    modifiers: duoMaskOf((input.modifiers ?? []) as DuoName[]),
                    dataClasses: maskOf((input.dataClasses as DataClassName[]).map((name) => DataClass[name])),
                    purposes: maskOf((input.purposes as PurposeName[]).map((name) => Purpose[name])),
                    diseaseId: input.diseaseId,
                    maxDuration: input.maxDuration ?? 0,
                    validUntil: until ? Math.floor(until.getTime() / 1000) : 0,
                  },
                },
              },
            ],
            "Save the policy",
            async () => {
              const label = pseudonym.relationship.kind === "study" ? pseudonym.relationship.label : "";
              const { transaction } = await (this.identity as PatientIdentity).publishStudyPolicy(label, input);
              await transaction.wait();
            },
            "The study's standing policy is saved.",
          );
        },
      },
      h("h3", null, "A study's standing policy"),
      h(
        "p",
        { class: "note" },
        "Requests to the study pseudonym that fit it are approved at once. The researcher sees only this pseudonym.",
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-policy-as" }, "Study"),
        h(
          "select",
          { name: "as", id: "pseudonym-policy-as" },
          studies.map((item) => h("option", { value: item.address }, this.relationshipText(item.id))),
        ),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-policy-permission" }, "Research it covers"),
        h(
          "select",
          { id: "pseudonym-policy-permission", name: "permission" },
          DUO_PERMISSIONS.map((name) => h("option", { value: name, selected: name === "HMB" }, DuoDisplay[name])),
        ),
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Conditions"),
        checkboxes(
          "modifier",
          DUO_MODIFIERS.map((name) => ({ value: name, label: DuoDisplay[name] })),
          (value) => value === "NPU",
        ),
        errorSlot(formId, "modifier"),
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Data it may release"),
        checkboxes(
          "dataClass",
          dataClassOptions((name) =>
            SENSITIVE_DATA_CLASSES.includes(name) ? "(never by policy: always asks you)" : undefined,
          ),
        ),
        errorSlot(formId, "dataClass"),
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Purposes"),
        checkboxes(
          "purpose",
          RESEARCH_PURPOSES.map((name) => ({ value: name, label: PurposeDisplay[name] })),
          () => true,
        ),
        errorSlot(formId, "purpose"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-policy-maxDays" }, "Longest access, in days (with a time limit)"),
        h("input", { id: "pseudonym-policy-maxDays", type: "number", name: "maxDays", min: 1, step: 1 }),
        errorSlot(formId, "maxDays"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-policy-diseaseId" }, "Disease, MONDO number (specific disease only)"),
        h("input", { id: "pseudonym-policy-diseaseId", type: "number", name: "diseaseId", min: 1, step: 1 }),
        errorSlot(formId, "diseaseId"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "pseudonym-policy-until" }, "Until (optional)"),
        h("input", { id: "pseudonym-policy-until", type: "date", name: "until" }),
        errorSlot(formId, "until"),
      ),
      h(
        "button",
        { class: "primary", type: "submit", "data-action": "save-policy", disabled: this.busy || !this.relayer },
        "Review the policy",
      ),
    );
    // The days are the TS modifier's limit: asked for exactly when TS is ticked (as on the main page).
    const syncTimeLimit = () => {
      const timeLimited = form.querySelector<HTMLInputElement>('input[name="modifier"][value="TS"]')?.checked ?? false;
      (form.querySelector('input[name="maxDays"]') as HTMLInputElement).disabled = !timeLimited;
    };
    form.addEventListener("change", syncTimeLimit);
    syncTimeLimit();
    return form;
  }

  private renderRecords(view: PatientView): HTMLElement {
    const items = view.records.map((record) =>
      h(
        "li",
        {
          "data-testid": "pseudonym-record",
          "data-relationship": record.relationship,
          "data-record-id": record.recordId,
        },
        this.tag(record),
        ` ${dataClassList(1 << record.dataClass)} from ${this.nameOf(record.provider)}, version ${record.version}`,
      ),
    );
    return section(
      "pseudonym-records",
      "Your records",
      null,
      items.length
        ? h("ul", { class: "plain" }, items)
        : h("p", { class: "empty" }, "No records under your pseudonyms yet."),
    );
  }

  private renderAudit(view: PatientView): HTMLElement {
    const items = view.audit.map((entry) =>
      h(
        "li",
        {
          "data-testid": "pseudonym-audit-entry",
          "data-relationship": entry.relationship,
          "data-action-name": entry.action,
        },
        this.tag(entry),
        ` ${prettyName(entry.action)}${entry.counterparty ? ` · ${this.nameOf(entry.counterparty)}` : ""} · block ${entry.blockNumber}`,
      ),
    );
    return section(
      "pseudonym-audit",
      "Audit trail of your pseudonyms",
      null,
      items.length ? h("ol", { class: "plain" }, items) : h("p", { class: "empty" }, "Nothing has happened yet."),
    );
  }
}

/** The options both the page and its test draw a pairing link's QR code with. */
const QR_OPTIONS = { type: "svg", errorCorrectionLevel: "M", margin: 2 } as const;

/** A pairing link as a QR code: node-qrcode's SVG, drawn here from the link this page signed. */
export function pairingQrSvg(link: string): Promise<string> {
  return QRCode.toString(link, QR_OPTIONS);
}

/**
 * The QR code as an <img> of a data: URL, never parsed into the page: an SVG shown as an image runs no
 * script and loads nothing, so even a malformed one cannot act on the page. (The SVG is generated here,
 * from the link this page signed, so it holds nothing a provider or anyone else wrote.)
 */
function pairingQr(svg: string | undefined, alt: string): HTMLElement | null {
  if (!svg) return null;
  return h("img", {
    class: "pairing-qr",
    "data-testid": "pairing-qr",
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`,
    alt,
    width: 220,
    height: 220,
  });
}
