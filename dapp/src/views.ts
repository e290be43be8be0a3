/**
 * The dashboard's sections, rendered from DashboardData. Buttons call the actions main.ts passes in;
 * nothing here talks to the chain.
 */
import {
  codesOf,
  DataClass,
  DUO_MODIFIERS,
  DUO_PERMISSIONS,
  Purpose,
  PurposeDisplay,
  RESEARCH_PURPOSES,
  Role,
  SENSITIVE_DATA_CLASSES,
  type AuditEntry,
  type Consent,
  type DataClassName,
  type DuoName,
  type GrantInput,
  type PolicyInput,
  type PurposeName,
} from "consent-ledger";

import { h, type Child } from "./dom";
import type { DashboardData, Party, PendingRequest, RecordChain } from "./data";
import {
  ACTION_TEXT,
  BASIS_TEXT,
  dataClassList,
  dateTime,
  day,
  duoList,
  duoName,
  duoText,
  DUO_TEXT,
  duration,
  prettyName,
  purposeList,
  purposeText,
  relative,
  roleNames,
  shortAddress,
  shortHash,
} from "./format";

export interface Actions {
  approve(request: PendingRequest): void;
  deny(request: PendingRequest): void;
  revoke(consent: Consent): void;
  grant(input: GrantInput): void;
  setPolicy(input: PolicyInput): void;
  clearPolicy(): void;
  addDelegate(address: string, validUntil: Date): void;
  removeDelegate(address: string): void;
  setOptOut(optedOut: boolean): void;
  exportAudit(): void;
  exportConsents(): void;
}

export interface ViewContext {
  patient: string;
  labels: Record<string, string>;
  /** studyIdOf(name) → name, for the studies the page knows. */
  studies: Map<string, string>;
  /** Sign instead of sending (the gasless path). */
  gasless: boolean;
  /** An action is running: buttons are disabled. */
  busy: boolean;
  actions: Actions;
}

const DATA_CLASS_NAMES = Object.keys(DataClass) as DataClassName[];
const PURPOSE_NAMES = Object.keys(Purpose) as PurposeName[];

/** A name for an address: "you", the demo's name, or 0x1234…abcd; the full address on hover. */
export function who(address: string | undefined, context: Pick<ViewContext, "patient" | "labels">): HTMLElement {
  if (!address) return h("span", null, "");
  const isYou = address.toLowerCase() === context.patient.toLowerCase();
  const name = isYou ? "you" : context.labels[address.toLowerCase()];
  return h("span", { class: "who", title: address }, name ? h("strong", null, name) : null, name ? " " : null, h("code", null, shortAddress(address)));
}

function badge(text: string, tone: "ok" | "warn" | "bad" | "info" | "muted" = "info"): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

function section(id: string, title: string, subtitle: string | null, ...children: Child[]): HTMLElement {
  return h("section", { class: "card", id, "data-testid": id }, h("header", null, h("h2", null, title), subtitle ? h("p", { class: "sub" }, subtitle) : null), ...children);
}

function empty(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

// ------------------------------------------------------------------------------------------------
// Requests

function accreditation(party: Party, now: number): HTMLElement {
  const researcher = (party.roles & Role.RESEARCHER) !== 0;
  const lapsed = party.accreditedUntil !== 0 && party.accreditedUntil <= now;
  return h(
    "div",
    { class: "badges", "data-testid": "accreditation" },
    party.roles === 0 ? badge("not accredited", "bad") : roleNames(party.roles).map((role) => badge(role, researcher ? "info" : "muted")),
    party.roles !== 0 ? badge(party.nonProfit ? "non-profit" : "commercial", party.nonProfit ? "ok" : "warn") : null,
    party.suspended ? badge("suspended", "bad") : null,
    party.roles === 0
      ? null
      : lapsed
        ? badge(`accreditation lapsed ${day(party.accreditedUntil)}`, "bad")
        : badge(party.accreditedUntil === 0 ? "accredited, no end date" : `accredited until ${day(party.accreditedUntil)}`, "ok"),
  );
}

export function renderRequests(data: DashboardData, context: ViewContext): HTMLElement {
  const cards = data.requests.map((view) => {
    const terms = view.request.terms;
    const category = duoName(terms.researchCategory);
    const obligations = duoList(terms.acceptedObligations);
    const study = context.studies.get(terms.studyId.toLowerCase());
    return h(
      "article",
      { class: "request", "data-testid": "request", "data-request-id": view.requestId, "data-researcher": view.request.researcher },
      h("h3", null, who(view.request.researcher, context), " asks to see ", h("span", { class: "classes" }, dataClassList(terms.dataClasses))),
      accreditation(view.party, data.now),
      h(
        "dl",
        { class: "terms" },
        h("dt", null, "Purpose"),
        h("dd", null, purposeText(terms.purpose), category ? ` · ${DUO_TEXT[category]} (${category})` : null),
        h("dt", null, "Study"),
        h("dd", null, study ? h("strong", null, study) : h("code", { title: terms.studyId }, shortHash(terms.studyId))),
        h("dt", null, "For"),
        h("dd", null, `${duration(terms.duration)} from your approval`),
        obligations.length ? [h("dt", null, "They accept"), h("dd", null, obligations.join("; "))] : null,
        h("dt", null, "Asked"),
        h("dd", null, dateTime(view.request.openedAt), view.expiresAt ? ` · expires ${relative(view.expiresAt, data.now)}` : null),
      ),
      h(
        "div",
        { class: "buttons" },
        h("button", { class: "primary", "data-action": "approve", disabled: context.busy, onclick: () => context.actions.approve(view) }, context.gasless ? "Sign approval" : "Approve"),
        h("button", { "data-action": "deny", disabled: context.busy, onclick: () => context.actions.deny(view) }, context.gasless ? "Sign denial" : "Deny"),
      ),
    );
  });
  return section(
    "requests",
    "Requests waiting for you",
    "Researchers ask; nothing is shared until you approve. Your standing policy has already approved what it covers.",
    cards.length ? h("div", { class: "requests" }, cards) : empty("No requests are waiting for your decision."),
  );
}

// ------------------------------------------------------------------------------------------------
// Grants

function checkboxes(name: string, options: readonly { value: string; label: string; note?: string }[], checked: (value: string) => boolean = () => false): HTMLElement {
  return h(
    "div",
    { class: "checks" },
    options.map((option) =>
      h("label", { title: option.note }, h("input", { type: "checkbox", name, value: option.value, checked: checked(option.value) }), " ", option.label, option.note ? h("small", null, ` ${option.note}`) : null),
    ),
  );
}

function formValues(form: HTMLFormElement, name: string): string[] {
  return new FormData(form).getAll(name).map(String);
}

function formValue(form: HTMLFormElement, name: string): string {
  return String(new FormData(form).get(name) ?? "").trim();
}

/** "2027-01-31" from a date input → the end of that day, local time. */
function endOfDay(value: string): Date | undefined {
  return value ? new Date(`${value}T23:59:59`) : undefined;
}

export function renderGrants(data: DashboardData, context: ViewContext): HTMLElement {
  const rows = data.consents.map((consent) =>
    h(
      "tr",
      { "data-testid": "grant", "data-grantee": consent.grantee },
      h("td", null, who(consent.grantee, context)),
      h("td", null, dataClassList(consent.dataClasses)),
      h("td", null, purposeList(consent.purposes)),
      h("td", null, consent.validFrom > data.now ? `from ${dateTime(consent.validFrom)}, ` : "", "until ", h("strong", null, day(consent.validUntil)), h("small", null, ` (${relative(consent.validUntil, data.now)})`)),
      h("td", { class: "right" }, h("button", { class: "danger", "data-action": "revoke", disabled: context.busy, onclick: () => context.actions.revoke(consent) }, context.gasless ? "Sign revocation" : "Revoke")),
    ),
  );
  const form = h(
    "form",
    {
      class: "grant-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        context.actions.grant({
          grantee: formValue(target, "grantee"),
          dataClasses: formValues(target, "dataClass") as DataClassName[],
          purposes: formValues(target, "purpose") as PurposeName[],
          validUntil: endOfDay(formValue(target, "until")) ?? new Date(0),
        });
      },
    },
    h("label", null, "Who (address) ", h("input", { name: "grantee", required: true, placeholder: "0x…", size: 44, autocomplete: "off" })),
    h("fieldset", null, h("legend", null, "Which data"), checkboxes("dataClass", DATA_CLASS_NAMES.map((name) => ({ value: name, label: prettyName(name) })))),
    h("fieldset", null, h("legend", null, "For what"), checkboxes("purpose", PURPOSE_NAMES.map((name) => ({ value: name, label: PurposeDisplay[name] })))),
    h("label", null, "Until ", h("input", { type: "date", name: "until", required: true })),
    h("div", { class: "buttons" }, h("button", { class: "primary", type: "submit", "data-action": "grant", disabled: context.busy }, context.gasless ? "Sign the grant" : "Grant access")),
  );
  return section(
    "grants",
    "Who can see your data",
    "Consents in force now. Revoking takes effect in the next block: the custodian asks the chain before every key release.",
    rows.length
      ? h("table", null, h("thead", null, h("tr", null, h("th", null, "Who"), h("th", null, "Data"), h("th", null, "Purposes"), h("th", null, "Valid"), h("th", null, ""))), h("tbody", null, rows))
      : empty("Nobody has access to your records now."),
    h("details", null, h("summary", null, "Grant access to someone"), form),
    h("div", { class: "buttons end" }, h("button", { class: "link", "data-action": "export-consents", onclick: () => context.actions.exportConsents() }, "Download as FHIR Consent resources")),
  );
}

// ------------------------------------------------------------------------------------------------
// Records

export function renderRecords(data: DashboardData, context: ViewContext): HTMLElement {
  const row = (chain: RecordChain) => {
    const { latest, older } = chain;
    const className = dataClassList(1 << latest.dataClass);
    return h(
      "tr",
      { "data-testid": "record", "data-record-id": latest.recordId },
      h("td", null, h("strong", null, className)),
      h("td", null, who(latest.provider, context)),
      h("td", null, dateTime(latest.time)),
      h(
        "td",
        null,
        h("span", { class: "version" }, `v${latest.version}`),
        older.map((previous) => [h("span", { class: "arrow" }, " ← "), h("span", { class: "version old", title: `${previous.recordId}, anchored ${dateTime(previous.time)}` }, `v${previous.version} (${day(previous.time)})`)]),
      ),
      h("td", null, h("code", { title: latest.recordId }, shortHash(latest.recordId))),
    );
  };
  return section(
    "records",
    "Your records",
    "Encrypted by your providers and anchored on the ledger; a new version replaces the old one and keeps the link.",
    data.records.length
      ? h("table", null, h("thead", null, h("tr", null, h("th", null, "Data"), h("th", null, "Provider"), h("th", null, "Date"), h("th", null, "Versions"), h("th", null, "Record id"))), h("tbody", null, data.records.map(row)))
      : empty("No provider has anchored a record for you yet."),
  );
}

// ------------------------------------------------------------------------------------------------
// Policy

export function renderPolicy(data: DashboardData, context: ViewContext): HTMLElement {
  const policy = data.policy;
  const expired = policy && policy.validUntil !== 0 && policy.validUntil <= data.now;
  const summary = policy
    ? h(
        "div",
        { class: "policy-summary", "data-testid": "policy-summary" },
        h("p", null, expired ? badge("expired", "bad") : badge("active", "ok"), " Approves requests for ", h("strong", null, duoText(policy.permission)), "."),
        h(
          "ul",
          null,
          h("li", null, "Data: ", dataClassList(policy.dataClasses)),
          h("li", null, "Purposes: ", purposeList(policy.purposes)),
          h("li", null, "Conditions: ", duoList(policy.modifiers).join("; ") || "none"),
          h("li", null, "Longest access: ", policy.maxDuration ? duration(policy.maxDuration) : "any the ledger allows"),
          h("li", null, "Until: ", policy.validUntil ? day(policy.validUntil) : "you clear it"),
        ),
      )
    : h("p", { class: "policy-summary", "data-testid": "policy-summary" }, "No standing policy: you decide every request yourself.");
  const permission = policy ? duoName(policy.permission) : "HMB";
  const modifiers = new Set(policy ? codesOf(policy.modifiers).map((code) => duoName(code)) : ["NPU"]);
  const classes = new Set(policy ? codesOf(policy.dataClasses) : []);
  const purposes = new Set(policy ? codesOf(policy.purposes) : RESEARCH_PURPOSES.map((name) => Purpose[name]));
  const isoDay = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
  const needsTx = context.gasless ? h("p", { class: "note" }, "Setting a policy needs a transaction: the ledger takes no signature for it.") : null;
  const form = h(
    "form",
    {
      "data-testid": "policy-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        const maxDays = formValue(target, "maxDays");
        const diseaseId = formValue(target, "diseaseId");
        context.actions.setPolicy({
          permission: formValue(target, "permission") as DuoName,
          modifiers: formValues(target, "modifier") as DuoName[],
          dataClasses: formValues(target, "dataClass") as DataClassName[],
          purposes: formValues(target, "purpose") as PurposeName[],
          maxDuration: maxDays ? Math.round(Number(maxDays) * 86400) : undefined,
          diseaseId: diseaseId ? Number(diseaseId) : undefined,
          validUntil: endOfDay(formValue(target, "until")),
        });
      },
    },
    h(
      "label",
      null,
      "Research it covers ",
      h("select", { name: "permission" }, DUO_PERMISSIONS.map((name) => h("option", { value: name, selected: name === permission }, `${DUO_TEXT[name]} (${name})`))),
    ),
    h("fieldset", null, h("legend", null, "Conditions"), checkboxes("modifier", DUO_MODIFIERS.map((name) => ({ value: name, label: `${DUO_TEXT[name]} (${name})` })), (value) => modifiers.has(value as DuoName))),
    h(
      "fieldset",
      null,
      h("legend", null, "Data it may release"),
      checkboxes(
        "dataClass",
        DATA_CLASS_NAMES.map((name) => ({ value: name, label: prettyName(name), note: SENSITIVE_DATA_CLASSES.includes(name) ? "(sensitive: never by policy)" : undefined })),
        (value) => classes.has(DataClass[value as DataClassName]),
      ),
    ),
    h("fieldset", null, h("legend", null, "Purposes"), checkboxes("purpose", RESEARCH_PURPOSES.map((name) => ({ value: name, label: PurposeDisplay[name] })), (value) => purposes.has(Purpose[value as PurposeName]))),
    h(
      "div",
      { class: "row" },
      h("label", null, "Longest access, in days (the time limit of TS) ", h("input", { type: "number", name: "maxDays", min: 1, step: 1, value: policy?.maxDuration ? String(policy.maxDuration / 86400) : "" })),
      h("label", null, "Until ", h("input", { type: "date", name: "until", value: policy?.validUntil ? isoDay(policy.validUntil) : "" })),
      h("label", null, "Disease, MONDO id (DS only) ", h("input", { type: "number", name: "diseaseId", min: 1, step: 1, value: policy?.diseaseId ? String(policy.diseaseId) : "" })),
    ),
    needsTx,
    h(
      "div",
      { class: "buttons" },
      h("button", { class: "primary", type: "submit", "data-action": "save-policy", disabled: context.busy || context.gasless }, policy ? "Save changes" : "Set policy"),
      policy ? h("button", { type: "button", class: "danger", "data-action": "clear-policy", disabled: context.busy || context.gasless, onclick: () => context.actions.clearPolicy() }, "Clear policy") : null,
    ),
  );
  // The days are the TS modifier's limit: asked for exactly when TS is ticked.
  const syncTimeLimit = () => {
    const timeLimited = form.querySelector<HTMLInputElement>('input[name="modifier"][value="TS"]')?.checked ?? false;
    const days = form.querySelector<HTMLInputElement>('input[name="maxDays"]') as HTMLInputElement;
    days.disabled = !timeLimited;
    days.required = timeLimited;
  };
  form.addEventListener("change", syncTimeLimit);
  syncTimeLimit();
  return section("policy", "Standing policy", "Requests that fit it are approved at once, without asking you.", summary, h("details", null, h("summary", null, policy ? "Edit the policy" : "Set a policy"), form));
}

// ------------------------------------------------------------------------------------------------
// Delegates and emergency access

export function renderDelegates(data: DashboardData, context: ViewContext): HTMLElement {
  const list = data.delegates.map((delegate) =>
    h(
      "li",
      { "data-testid": "delegate", "data-delegate": delegate.address },
      who(delegate.address, context),
      h("small", null, ` until ${day(delegate.validUntil)} (${relative(delegate.validUntil, data.now)})`),
      " ",
      h("button", { class: "danger small", "data-action": "remove-delegate", disabled: context.busy || context.gasless, onclick: () => context.actions.removeDelegate(delegate.address) }, "Remove"),
    ),
  );
  const form = h(
    "form",
    {
      class: "inline",
      "data-testid": "delegate-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        context.actions.addDelegate(formValue(target, "delegate"), endOfDay(formValue(target, "until")) ?? new Date(0));
      },
    },
    h("input", { name: "delegate", required: true, placeholder: "their address, 0x…", size: 44, autocomplete: "off", "aria-label": "Delegate's address" }),
    h("label", null, "until ", h("input", { type: "date", name: "until", required: true })),
    h("button", { type: "submit", "data-action": "add-delegate", disabled: context.busy || context.gasless }, "Add delegate"),
  );
  return section(
    "delegates",
    "Delegates",
    "A parent or carer who may decide for you until a date you choose.",
    list.length ? h("ul", { class: "plain" }, list) : empty("No delegates."),
    form,
  );
}

export function renderEmergency(data: DashboardData, context: ViewContext): HTMLElement {
  return section(
    "emergency",
    "Emergency access",
    "An accredited provider may open a short, logged window on your records when you cannot be asked.",
    h(
      "label",
      { class: "switch" },
      h("input", {
        type: "checkbox",
        "data-action": "emergency-opt-out",
        checked: data.optedOut,
        disabled: context.busy || context.gasless,
        onchange: (event: Event) => context.actions.setOptOut((event.currentTarget as HTMLInputElement).checked),
      }),
      " Opt out of emergency access",
    ),
    h("p", { "data-testid": "emergency-state" }, data.optedOut ? badge("opted out", "warn") : badge("allowed", "ok"), data.optedOut ? " No provider can break the glass on your records." : " Providers can break the glass; every opening is in your audit trail."),
    data.emergencyWindows.map((window) =>
      h("p", { class: "note warn", "data-testid": "emergency-window" }, "Open now: ", who(window.provider, context), ` may read your records in an emergency until ${dateTime(window.until)} (${relative(window.until, data.now)}).`),
    ),
  );
}

// ------------------------------------------------------------------------------------------------
// Audit trail

const ACTION_TONE: Partial<Record<AuditEntry["action"], string>> = {
  "key-released": "release",
  "consent-granted": "grant",
  "request-approved": "grant",
  "consent-revoked": "revoke",
  "request-denied": "revoke",
  "emergency-opened": "emergency",
};

export function renderAudit(data: DashboardData, context: ViewContext): HTMLElement {
  const isPatient = (address: string) => address.toLowerCase() === context.patient.toLowerCase();
  const entries = [...data.audit].reverse().map((entry) => {
    // The other party in the title: whom it concerns, else who did it when that was not the patient.
    const party = entry.counterparty ?? (isPatient(entry.actor) ? undefined : entry.actor);
    const actorShown = party !== undefined && party.toLowerCase() === entry.actor.toLowerCase();
    return h(
      "li",
      {
        class: `entry ${ACTION_TONE[entry.action] ?? ""}`,
        "data-testid": "audit-entry",
        "data-action": entry.action,
        "data-counterparty": entry.counterparty ?? "",
        "data-basis": entry.basis,
        "data-request-id": entry.requestId ?? "",
        "data-time": entry.time,
        "data-block": entry.blockNumber,
      },
      h("time", null, dateTime(entry.time)),
      h(
        "div",
        null,
        h("strong", null, ACTION_TEXT[entry.action]),
        party ? [" · ", who(party, context)] : null,
        h("span", { class: "basis" }, ` ${BASIS_TEXT[entry.basis]}`),
        h(
          "div",
          { class: "meta" },
          entry.dataClasses !== undefined ? h("span", null, dataClassList(entry.dataClasses)) : null,
          entry.purposes !== undefined ? h("span", null, purposeList(entry.purposes)) : null,
          entry.validUntil !== undefined ? h("span", null, `until ${entry.action === "emergency-opened" ? dateTime(entry.validUntil) : day(entry.validUntil)}`) : null,
          actorShown || isPatient(entry.actor) ? null : h("span", null, "by ", who(entry.actor, context)),
          entry.recordId ? h("span", null, "record ", h("code", { title: entry.recordId }, shortHash(entry.recordId))) : null,
          entry.releaseBatchRoot ? h("span", { title: `Merkle root ${entry.releaseBatchRoot}` }, "logged in a batch, proven on chain") : null,
          h("span", null, h("code", { title: `transaction ${entry.transactionHash}, block ${entry.blockNumber}` }, `block ${entry.blockNumber}`)),
        ),
      ),
    );
  });
  return section(
    "audit",
    "Audit trail",
    "Rebuilt from the ledger's events and the custodian's proven release logs: who did what with your data, and on what basis.",
    data.auditWarning ? h("p", { class: "note warn" }, data.auditWarning) : null,
    entries.length ? h("ol", { class: "timeline" }, entries) : empty("Nothing has happened yet."),
    h("div", { class: "buttons end" }, h("button", { class: "link", "data-action": "export-audit", onclick: () => context.actions.exportAudit() }, "Download as a FHIR AuditEvent bundle")),
  );
}

export function renderSummary(data: DashboardData): HTMLElement {
  const stat = (label: string, value: string | number, testid: string) => h("div", { class: "stat", "data-testid": testid }, h("span", { class: "value" }, String(value)), h("span", { class: "label" }, label));
  return h(
    "div",
    { class: "stats" },
    stat("records", data.records.length, "stat-records"),
    stat("waiting for you", data.requests.length, "stat-requests"),
    stat("with access", data.consents.length, "stat-grants"),
    stat("standing policy", data.policy ? "on" : "off", "stat-policy"),
    stat("emergency access", data.optedOut ? "opted out" : "allowed", "stat-emergency"),
    stat("audit entries", data.audit.length, "stat-audit"),
  );
}
