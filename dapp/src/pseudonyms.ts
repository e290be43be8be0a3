/**
 * The "Pseudonyms" mode: the wallet signs once, the SDK derives one patient account per relationship
 * (a provider, a study), the patient hands a provider a signed pairing link, and the page reads every
 * pseudonym's records, consents, requests and audit as one view (PatientIdentity), each item tagged with
 * the relationship it belongs to. Pseudonyms never hold ether: their revocations and decisions are signed
 * and go to the consent relayer (config.relayer); with none configured they are not offered.
 *
 * The root stays in this page's memory only. The list of relationships (provider addresses, study labels)
 * is kept in localStorage: it holds no key, and losing it loses nothing but the list.
 */
import {
  createPairingLink,
  DataClass,
  Purpose,
  derivePseudonymRoot,
  describeConsentChange,
  PatientIdentity,
  pseudonymSigner,
  RelayerClient,
  type ActionRoute,
  type ConsentAction,
  type ConsentChange,
  type LedgerContracts,
  type PatientView,
  type Pseudonym,
  type PseudonymRoot,
  type Relationship,
  type RequestView,
  type Tagged,
} from "consent-ledger";
import { getAddress, isAddress } from "ethers";
import QRCode from "qrcode";

import type { DappConfig } from "./config";
import { h, mount, type Child } from "./dom";
import { explain, type Explanation } from "./errors";
import { dataClassList, day, prettyName, purposeList, shortAddress } from "./format";
import { section } from "./views";
import type { ConnectedWallet } from "./wallet";

export interface PseudonymPageDeps {
  config: DappConfig;
  wallet: ConnectedWallet;
  contracts: LedgerContracts;
  review: (change: ConsentChange, confirmLabel: string, route: ActionRoute | "sign") => Promise<boolean>;
  status: (text: string, tone?: "info" | "ok" | "error") => void;
  showAlert: (explanation: Explanation | undefined) => void;
  setPageState: (state: "loading" | "ready" | "busy" | "error") => void;
}

const STUDY_LABEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class PseudonymPage {
  private root?: PseudonymRoot;
  private pseudonyms: Pseudonym[] = [];
  private identity?: PatientIdentity;
  private view?: PatientView;
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
    const [view, block] = await Promise.all([this.identity.view(), this.deps.contracts.provider.getBlock("latest")]);
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

  render(): void {
    const main: Child[] = [this.renderPseudonyms()];
    const side: Child[] = [];
    if (this.view) {
      main.push(
        this.renderRequests(this.view.requests),
        this.renderConsents(this.view),
        this.renderGrantForm(),
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
