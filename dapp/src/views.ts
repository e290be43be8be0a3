/**
 * The dashboard's sections, rendered from DashboardData. Buttons call the actions main.ts passes in;
 * nothing here talks to the chain. Forms check what they can before anything is sent, and say what is
 * wrong next to the field.
 */
import {
  codesOf,
  DataClass,
  DataClassDisplay,
  DUO_MODIFIERS,
  DUO_PERMISSIONS,
  DuoDisplay,
  FLAGGED_DATA_CLASSES,
  flaggedClassesOf,
  Purpose,
  PurposeDisplay,
  purposeMaskText,
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
  type StudyLabel,
} from "consent-ledger";
import { isAddress } from "ethers";

import { h, type Child } from "./dom";
import type { DashboardData, Party, PendingRequest, RecordChain } from "./data";
import {
  ACTION_TEXT,
  auditChange,
  BASIS_TEXT,
  dataClassList,
  dateTime,
  day,
  duoName,
  duration,
  purposeList,
  purposeName,
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
  /** Reads the time and basis of every audit entry, not only the newest. */
  auditDetails(): void;
  exportConsents(): void;
  /** Reads everything again (after the gateway or node failed). */
  reload(): void;
}

export interface ViewContext {
  patient: string;
  labels: Record<string, string>;
  /** A study's label by its on-chain id (lower case), as the researcher published it. */
  studyLabels: Map<string, StudyLabel>;
  /** Sign instead of sending (the gasless path). */
  gasless: boolean;
  /** An action is running: buttons are disabled. */
  busy: boolean;
  actions: Actions;
}

const DATA_CLASS_NAMES = Object.keys(DataClass) as DataClassName[];
const PURPOSE_NAMES = Object.keys(Purpose) as PurposeName[];

/** A name for an address as plain text: "you", the demo's name, or 0x1234…abcd. */
export function nameOf(address: string, context: Pick<ViewContext, "patient" | "labels">): string {
  if (address.toLowerCase() === context.patient.toLowerCase()) return "you";
  return context.labels[address.toLowerCase()] ?? shortAddress(address);
}

/** A name for an address: "you", the demo's name, or 0x1234…abcd; the full address on hover. */
export function who(address: string | undefined, context: Pick<ViewContext, "patient" | "labels">): HTMLElement {
  if (!address) return h("span", null, "");
  const isYou = address.toLowerCase() === context.patient.toLowerCase();
  const name = isYou ? "you" : context.labels[address.toLowerCase()];
  return h(
    "span",
    { class: "who", title: address },
    name ? h("strong", null, name) : null,
    name ? " " : null,
    h("code", null, shortAddress(address)),
  );
}

export function badge(text: string, tone: "ok" | "warn" | "bad" | "info" | "muted" = "info"): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

/** A flag on each sensitive class in `mask`: mental health, sexual and reproductive health, substance use, genomic. */
export function sensitiveFlags(mask: number | undefined): HTMLElement | null {
  const flagged = mask === undefined ? [] : flaggedClassesOf(mask);
  if (!flagged.length) return null;
  return h(
    "span",
    { class: "flags", "data-testid": "sensitive" },
    flagged.map((name) =>
      h(
        "span",
        { class: "badge sensitive", title: "Sensitive: think twice before sharing" },
        h("span", { "aria-hidden": "true" }, "⚠ "),
        `Sensitive: ${DataClassDisplay[name]}`,
      ),
    ),
  );
}

/** The codes behind plain words, for those who want them: closed by default. */
function codes(...items: (string | undefined | false)[]): HTMLElement | null {
  const shown = items.filter((item): item is string => Boolean(item));
  if (!shown.length) return null;
  return h(
    "details",
    { class: "codes" },
    h("summary", null, "Codes"),
    h(
      "span",
      null,
      shown.map((code, index) => [index ? " · " : null, h("code", null, code)]),
    ),
  );
}

export function section(id: string, title: string, subtitle: string | null, ...children: Child[]): HTMLElement {
  return h(
    "section",
    { class: "card", id, "data-testid": id, "aria-labelledby": `${id}-title` },
    h(
      "header",
      null,
      h("h2", { id: `${id}-title`, tabindex: -1 }, title),
      subtitle ? h("p", { class: "sub" }, subtitle) : null,
    ),
    ...children,
  );
}

/**
 * When the node did not give a section of the state, say so where its list would be, with a Retry: an
 * empty list there would tell the patient that no one has access when the page simply does not know.
 */
function unreadNote(
  data: DashboardData,
  context: ViewContext,
  which: DashboardData["unread"][number],
  what: string,
): Child {
  if (!data.unread.includes(which)) return null;
  return h(
    "div",
    { class: "note warn", "data-testid": `unread-${which}`, role: "alert" },
    h("p", null, `Your ${what} could not be read from the node, so this list may be incomplete.`),
    h(
      "button",
      { "data-action": `retry-${which}`, disabled: context.busy, onclick: () => context.actions.reload() },
      "Retry",
    ),
  );
}

function empty(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

/** A table that becomes a list of cards on a phone: each cell carries its column's name. */
function table(caption: string, columns: string[], rows: HTMLElement[]): HTMLElement {
  for (const row of rows) {
    Array.from(row.children).forEach((cell, index) => {
      if (columns[index]) cell.setAttribute("data-label", columns[index]);
    });
  }
  return h(
    "table",
    { class: "cards" },
    h("caption", { class: "visually-hidden" }, caption),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        columns.map((column) => h("th", { scope: "col" }, column)),
      ),
    ),
    h("tbody", null, rows),
  );
}

/** Unique accessible names: a repeated name gets "(2)", "(3)". */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}

/** An id safe in a selector for an address or hash. */
export function idOf(prefix: string, value: string): string {
  return `${prefix}-${value.toLowerCase().replace(/[^0-9a-z]/g, "")}`;
}

// ------------------------------------------------------------------------------------------------
// Forms: errors next to the field

/** Field name → what is wrong with it. */
export type FieldErrors = Record<string, string>;

/** A slot under a field for its error; `aria-describedby` of the field points to it when it is shown. */
export function errorSlot(form: string, name: string): HTMLElement {
  return h("p", { class: "field-error", id: `${form}-${name}-error`, "data-error-for": name, hidden: true });
}

/** Shows `errors` next to their fields in `form` (clearing the others) and focuses the first one. */
export function showFieldErrors(form: HTMLFormElement, errors: FieldErrors, focus = true): void {
  let first: HTMLElement | undefined;
  for (const slot of Array.from(form.querySelectorAll<HTMLElement>("[data-error-for]"))) {
    const name = slot.dataset.errorFor as string;
    const message = errors[name];
    slot.textContent = message ?? "";
    slot.hidden = !message;
    const controls = Array.from(form.querySelectorAll<HTMLElement>(`[name="${name}"]`));
    const group = controls[0]?.closest("fieldset");
    for (const target of group && controls.length > 1 ? [group as HTMLElement] : controls) {
      if (message) {
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", slot.id);
      } else {
        target.removeAttribute("aria-invalid");
        target.removeAttribute("aria-describedby");
      }
    }
    if (message && !first) first = controls[0];
  }
  if (focus) first?.focus();
}

export function formValues(form: HTMLFormElement, name: string): string[] {
  return new FormData(form).getAll(name).map(String);
}

export function formValue(form: HTMLFormElement, name: string): string {
  return String(new FormData(form).get(name) ?? "").trim();
}

/** "2027-01-31" from a date input → the end of that day, local time. */
export function endOfDay(value: string): Date | undefined {
  return value ? new Date(`${value}T23:59:59`) : undefined;
}

export function checkAddress(value: string, patient: string, who: string): string | undefined {
  if (value === "") return `Enter ${who}'s address (0x followed by 40 hexadecimal characters).`;
  if (!isAddress(value))
    return `"${String(value).slice(0, 60)}" is not an Ethereum address: it is 0x followed by 40 hexadecimal characters.`;
  if (value.toLowerCase() === patient.toLowerCase()) return "That is your own address: choose someone else.";
  return undefined;
}

export function checkFutureDay(value: string, now: number): string | undefined {
  const end = endOfDay(value);
  if (!end || Number.isNaN(end.getTime())) return "Choose the last day.";
  if (end.getTime() / 1000 <= now) return `Choose a day after ${day(now)}: the ledger refuses an end in the past.`;
  return undefined;
}

export function checkboxes(
  name: string,
  options: readonly { value: string; label: string; note?: string; sensitive?: boolean }[],
  checked: (value: string) => boolean = () => false,
): HTMLElement {
  return h(
    "div",
    { class: "checks" },
    options.map((option) =>
      h(
        "label",
        { class: option.sensitive ? "check sensitive" : "check" },
        h("input", { type: "checkbox", name, value: option.value, checked: checked(option.value) }),
        " ",
        option.label,
        option.sensitive ? h("span", { class: "badge sensitive" }, "sensitive") : null,
        option.note ? h("small", null, ` ${option.note}`) : null,
      ),
    ),
  );
}

export const dataClassOptions = (note?: (name: DataClassName) => string | undefined) =>
  DATA_CLASS_NAMES.map((name) => ({
    value: name,
    label: DataClassDisplay[name],
    sensitive: FLAGGED_DATA_CLASSES.includes(name),
    note: note?.(name),
  }));

// ------------------------------------------------------------------------------------------------
// Requests

function accreditation(party: Party, now: number): HTMLElement {
  const researcher = (party.roles & Role.RESEARCHER) !== 0;
  const lapsed = party.accreditedUntil !== 0 && party.accreditedUntil <= now;
  return h(
    "div",
    { class: "badges", "data-testid": "accreditation" },
    party.roles === 0
      ? badge("not accredited", "bad")
      : roleNames(party.roles).map((role) => badge(role, researcher ? "info" : "muted")),
    party.roles !== 0 ? badge(party.nonProfit ? "non-profit" : "commercial", party.nonProfit ? "ok" : "warn") : null,
    party.suspended ? badge("suspended", "bad") : null,
    party.roles === 0
      ? null
      : lapsed
        ? badge(`accreditation lapsed ${day(party.accreditedUntil)}`, "bad")
        : badge(
            party.accreditedUntil === 0 ? "accredited, no end date" : `accredited until ${day(party.accreditedUntil)}`,
            "ok",
          ),
  );
}

/** A study by the label its researcher published, checked against the on-chain id; else "unverified study". */
function studyView(studyId: string, label: StudyLabel | undefined): HTMLElement {
  if (label?.verified) {
    return h(
      "span",
      { class: "study", "data-testid": "study", "data-verified": "true" },
      // The researcher's own words: text only (never markup), bounded by the SDK, and said to be theirs.
      h("q", { class: "researcher-words", "data-testid": "study-title" }, label.title),
      h("small", null, " in the researcher's own words, checked against the study's id on the ledger"),
      codes(`study ${label.study}`, `id ${studyId}`),
    );
  }
  return h(
    "span",
    { class: "study", "data-testid": "study", "data-verified": "false" },
    badge("unverified study", "warn"),
    h("small", null, ` ${label && !label.verified ? label.reason : "the researcher published no label"}`),
    codes(`id ${studyId}`),
  );
}

export function renderRequests(data: DashboardData, context: ViewContext): HTMLElement {
  const names = uniqueNames(
    data.requests.map(
      (view) =>
        `${nameOf(view.request.researcher, context)}'s request for ${dataClassList(view.request.terms.dataClasses)}`,
    ),
  );
  const cards = data.requests.map((view, index) => {
    const terms = view.request.terms;
    const category = duoName(terms.researchCategory);
    const obligations = codesOf(terms.acceptedObligations).map((code) => duoName(code));
    const purpose = purposeName(terms.purpose);
    const flagged = flaggedClassesOf(terms.dataClasses);
    return h(
      "article",
      {
        class: flagged.length ? "request flagged" : "request",
        "data-testid": "request",
        "data-request-id": view.requestId,
        "data-researcher": view.request.researcher,
        "aria-label": names[index],
      },
      h(
        "h3",
        null,
        who(view.request.researcher, context),
        " asks to see ",
        h("span", { class: "classes" }, dataClassList(terms.dataClasses)),
      ),
      sensitiveFlags(terms.dataClasses),
      accreditation(view.party, data.now),
      h(
        "dl",
        { class: "terms" },
        h("dt", null, "Purpose"),
        h(
          "dd",
          null,
          purpose ? PurposeDisplay[purpose] : `purpose ${terms.purpose}`,
          category ? `: ${DuoDisplay[category]}` : null,
          terms.diseaseId ? ` (disease MONDO:${String(terms.diseaseId).padStart(7, "0")})` : null,
          codes(purpose, category && `DUO ${category}`),
        ),
        h("dt", null, "Study"),
        h("dd", null, studyView(terms.studyId, context.studyLabels.get(terms.studyId.toLowerCase()))),
        h("dt", null, "For"),
        h("dd", null, `${duration(terms.duration)} from your approval`),
        obligations.length
          ? [
              h("dt", null, "They accept"),
              h(
                "dd",
                null,
                obligations.map((name) => (name ? DuoDisplay[name] : "")).join("; "),
                codes(...obligations.map((name) => name && `DUO ${name}`)),
              ),
            ]
          : null,
        h("dt", null, "Asked"),
        h(
          "dd",
          null,
          dateTime(view.request.openedAt),
          view.expiresAt ? ` · expires ${relative(view.expiresAt, data.now)}` : null,
        ),
      ),
      h(
        "div",
        { class: "buttons" },
        h(
          "button",
          {
            class: "primary",
            id: idOf("approve", view.requestId),
            "data-action": "approve",
            "aria-label": `${context.gasless ? "Sign approval of" : "Approve"} ${names[index]}`,
            disabled: context.busy,
            onclick: () => context.actions.approve(view),
          },
          context.gasless ? "Sign approval" : "Approve",
        ),
        h(
          "button",
          {
            id: idOf("deny", view.requestId),
            "data-action": "deny",
            "aria-label": `${context.gasless ? "Sign denial of" : "Deny"} ${names[index]}`,
            disabled: context.busy,
            onclick: () => context.actions.deny(view),
          },
          context.gasless ? "Sign denial" : "Deny",
        ),
      ),
    );
  });
  return section(
    "requests",
    "Requests waiting for you",
    "Researchers ask; nothing is shared until you approve. Your standing policy has already approved what it covers.",
    unreadNote(data, context, "requests", "requests"),
    cards.length ? h("div", { class: "requests" }, cards) : empty("No requests are waiting for your decision."),
  );
}

// ------------------------------------------------------------------------------------------------
// Grants

export function validateGrant(form: HTMLFormElement, now: number, patient: string): FieldErrors {
  const errors: FieldErrors = {};
  const grantee = checkAddress(formValue(form, "grantee"), patient, "the person's or organisation's");
  if (grantee) errors.grantee = grantee;
  if (!formValues(form, "dataClass").length) errors.dataClass = "Tick at least one kind of data.";
  if (!formValues(form, "purpose").length) errors.purpose = "Tick at least one purpose.";
  const until = checkFutureDay(formValue(form, "until"), now);
  if (until) errors.until = until;
  return errors;
}

export function renderGrants(data: DashboardData, context: ViewContext): HTMLElement {
  const names = uniqueNames(data.consents.map((consent) => `${nameOf(consent.grantee, context)}'s access`));
  const rows = data.consents.map((consent, index) =>
    h(
      "tr",
      { "data-testid": "grant", "data-grantee": consent.grantee },
      h("td", null, who(consent.grantee, context)),
      h("td", null, dataClassList(consent.dataClasses), sensitiveFlags(consent.dataClasses)),
      h("td", null, purposeList(consent.purposes)),
      h(
        "td",
        null,
        consent.validFrom > data.now ? `from ${dateTime(consent.validFrom)}, ` : "",
        "until ",
        h("strong", null, day(consent.validUntil)),
        h("small", null, ` (${relative(consent.validUntil, data.now)})`),
      ),
      h(
        "td",
        { class: "right" },
        h(
          "button",
          {
            class: "danger",
            id: idOf("revoke", consent.grantee),
            "data-action": "revoke",
            "aria-label": `${context.gasless ? "Sign revocation of" : "Revoke"} ${names[index]}`,
            disabled: context.busy,
            onclick: () => context.actions.revoke(consent),
          },
          context.gasless ? "Sign revocation" : "Revoke",
        ),
      ),
    ),
  );
  const form = h(
    "form",
    {
      class: "grant-form",
      id: "grant-form",
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        const errors = validateGrant(target, data.now, context.patient);
        showFieldErrors(target, errors);
        if (Object.keys(errors).length) return;
        context.actions.grant({
          grantee: formValue(target, "grantee"),
          dataClasses: formValues(target, "dataClass") as DataClassName[],
          purposes: formValues(target, "purpose") as PurposeName[],
          validUntil: endOfDay(formValue(target, "until")) ?? new Date(0),
        });
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: "grant-grantee" }, "Who (their address)"),
      h("input", {
        id: "grant-grantee",
        name: "grantee",
        placeholder: "0x…",
        autocomplete: "off",
        spellcheck: "false",
      }),
      errorSlot("grant-form", "grantee"),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Which data"),
      checkboxes("dataClass", dataClassOptions()),
      errorSlot("grant-form", "dataClass"),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "For what"),
      checkboxes(
        "purpose",
        PURPOSE_NAMES.map((name) => ({ value: name, label: PurposeDisplay[name] })),
      ),
      errorSlot("grant-form", "purpose"),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "grant-until" }, "Until (last day)"),
      h("input", { id: "grant-until", type: "date", name: "until" }),
      errorSlot("grant-form", "until"),
    ),
    h(
      "div",
      { class: "buttons" },
      h(
        "button",
        { class: "primary", type: "submit", "data-action": "grant", disabled: context.busy },
        context.gasless ? "Review and sign the grant" : "Review the grant",
      ),
    ),
  );
  return section(
    "grants",
    "Who can see your data",
    "Consents in force now. Revoking takes effect in the next block: the custodian asks the chain before every key release.",
    unreadNote(data, context, "consents", "consents"),
    rows.length
      ? table(
          "People and organisations with access to your records",
          ["Who", "Data", "Purposes", "Valid", "Action"],
          rows,
        )
      : empty("Nobody has access to your records now."),
    h("details", { id: "grant-details" }, h("summary", null, "Grant access to someone"), form),
    h(
      "div",
      { class: "buttons end" },
      h(
        "button",
        { class: "link", "data-action": "export-consents", onclick: () => context.actions.exportConsents() },
        "Download as FHIR Consent resources",
      ),
    ),
  );
}

// ------------------------------------------------------------------------------------------------
// Records

export function renderRecords(data: DashboardData, context: ViewContext): HTMLElement {
  const row = (chain: RecordChain) => {
    const { latest, older } = chain;
    const mask = 1 << latest.dataClass;
    return h(
      "tr",
      { "data-testid": "record", "data-record-id": latest.recordId },
      h("td", null, h("strong", null, dataClassList(mask)), sensitiveFlags(mask)),
      h("td", null, who(latest.provider, context)),
      h("td", null, latest.time === undefined ? `block ${latest.blockNumber}` : dateTime(latest.time)),
      h(
        "td",
        null,
        h("span", { class: "version" }, `v${latest.version}`),
        older.map((previous) => [
          h("span", { class: "arrow" }, " ← "),
          h(
            "span",
            {
              class: "version old",
              title: `${previous.recordId}, anchored ${previous.time === undefined ? `in block ${previous.blockNumber}` : dateTime(previous.time)}`,
            },
            `v${previous.version} (${previous.time === undefined ? `block ${previous.blockNumber}` : day(previous.time)})`,
          ),
        ]),
      ),
      h("td", null, h("code", { title: latest.recordId }, shortHash(latest.recordId))),
    );
  };
  return section(
    "records",
    "Your records",
    "Encrypted by your providers and anchored on the ledger; a new version replaces the old one and keeps the link.",
    data.records.length
      ? table("Your records", ["Data", "Provider", "Date", "Versions", "Record id"], data.records.map(row))
      : empty("No provider has anchored a record for you yet."),
  );
}

// ------------------------------------------------------------------------------------------------
// Policy

export function validatePolicy(form: HTMLFormElement, now: number): FieldErrors {
  const errors: FieldErrors = {};
  if (!formValues(form, "dataClass").length)
    errors.dataClass = "Tick at least one kind of data the policy may release.";
  if (!formValues(form, "purpose").length) errors.purpose = "Tick at least one purpose.";
  const modifiers = formValues(form, "modifier");
  const maxDays = formValue(form, "maxDays");
  if (modifiers.includes("TS") && !(Number(maxDays) >= 1 && Number.isInteger(Number(maxDays))))
    errors.maxDays = "With a time limit, enter the longest access in whole days (1 or more).";
  const diseaseId = formValue(form, "diseaseId");
  if (formValue(form, "permission") === "DS" && !(Number(diseaseId) >= 1 && Number.isInteger(Number(diseaseId))))
    errors.diseaseId = "Research on a specific disease needs the disease's MONDO number.";
  if (formValue(form, "permission") !== "DS" && diseaseId)
    errors.diseaseId = 'A disease is only for "research on a specific disease": clear it or choose that.';
  const until = formValue(form, "until");
  if (until) {
    const problem = checkFutureDay(until, now);
    if (problem) errors.until = problem;
  }
  return errors;
}

export function renderPolicy(data: DashboardData, context: ViewContext): HTMLElement {
  const policy = data.policy;
  const expired = policy && policy.validUntil !== 0 && policy.validUntil <= data.now;
  const duoWords = (mask: bigint | number) =>
    codesOf(mask)
      .map((code) => duoName(code))
      .filter((name): name is DuoName => name !== undefined);
  const summary = policy
    ? h(
        "div",
        { class: "policy-summary", "data-testid": "policy-summary" },
        h(
          "p",
          null,
          expired ? badge("expired", "bad") : badge("active", "ok"),
          " Approves requests for ",
          h(
            "strong",
            null,
            duoName(policy.permission) ? DuoDisplay[duoName(policy.permission) as DuoName] : `DUO ${policy.permission}`,
          ),
          ".",
        ),
        h(
          "ul",
          null,
          h("li", null, "Data: ", dataClassList(policy.dataClasses), sensitiveFlags(policy.dataClasses)),
          h("li", null, "Purposes: ", purposeList(policy.purposes)),
          h(
            "li",
            null,
            "Conditions: ",
            duoWords(policy.modifiers)
              .map((name) => DuoDisplay[name])
              .join("; ") || "none",
          ),
          h(
            "li",
            null,
            "Longest access: ",
            policy.maxDuration ? duration(policy.maxDuration) : "any the ledger allows",
          ),
          h("li", null, "Until: ", policy.validUntil ? day(policy.validUntil) : "you clear it"),
        ),
        codes(...[duoName(policy.permission), ...duoWords(policy.modifiers)].map((name) => name && `DUO ${name}`)),
      )
    : h(
        "p",
        { class: "policy-summary", "data-testid": "policy-summary" },
        "No standing policy: you decide every request yourself.",
      );
  const permission = policy ? duoName(policy.permission) : "HMB";
  const modifiers = new Set(policy ? codesOf(policy.modifiers).map((code) => duoName(code)) : ["NPU"]);
  const classes = new Set(policy ? codesOf(policy.dataClasses) : []);
  const purposes = new Set(policy ? codesOf(policy.purposes) : RESEARCH_PURPOSES.map((name) => Purpose[name]));
  const isoDay = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
  const needsTx = context.gasless
    ? h("p", { class: "note" }, "Setting a policy needs a transaction: the ledger takes no signature for it.")
    : null;
  const form = h(
    "form",
    {
      "data-testid": "policy-form",
      id: "policy-form",
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        const errors = validatePolicy(target, data.now);
        showFieldErrors(target, errors);
        if (Object.keys(errors).length) return;
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
      "div",
      { class: "field" },
      h("label", { for: "policy-permission" }, "Research it covers"),
      h(
        "select",
        { id: "policy-permission", name: "permission" },
        DUO_PERMISSIONS.map((name) => h("option", { value: name, selected: name === permission }, DuoDisplay[name])),
      ),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Conditions"),
      checkboxes(
        "modifier",
        DUO_MODIFIERS.map((name) => ({ value: name, label: DuoDisplay[name] })),
        (value) => modifiers.has(value as DuoName),
      ),
      errorSlot("policy-form", "modifier"),
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
        (value) => classes.has(DataClass[value as DataClassName]),
      ),
      errorSlot("policy-form", "dataClass"),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Purposes"),
      checkboxes(
        "purpose",
        RESEARCH_PURPOSES.map((name) => ({ value: name, label: PurposeDisplay[name] })),
        (value) => purposes.has(Purpose[value as PurposeName]),
      ),
      errorSlot("policy-form", "purpose"),
    ),
    h(
      "div",
      { class: "row" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "policy-maxDays" }, "Longest access, in days (with a time limit)"),
        h("input", {
          id: "policy-maxDays",
          type: "number",
          name: "maxDays",
          min: 1,
          step: 1,
          value: policy?.maxDuration ? String(policy.maxDuration / 86400) : "",
        }),
        errorSlot("policy-form", "maxDays"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "policy-until" }, "Until (optional)"),
        h("input", {
          id: "policy-until",
          type: "date",
          name: "until",
          value: policy?.validUntil ? isoDay(policy.validUntil) : "",
        }),
        errorSlot("policy-form", "until"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "policy-diseaseId" }, "Disease, MONDO number (specific disease only)"),
        h("input", {
          id: "policy-diseaseId",
          type: "number",
          name: "diseaseId",
          min: 1,
          step: 1,
          value: policy?.diseaseId ? String(policy.diseaseId) : "",
        }),
        errorSlot("policy-form", "diseaseId"),
      ),
    ),
    needsTx,
    h(
      "div",
      { class: "buttons" },
      h(
        "button",
        { class: "primary", type: "submit", "data-action": "save-policy", disabled: context.busy || context.gasless },
        policy ? "Review changes" : "Review the policy",
      ),
      policy
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              id: "clear-policy",
              "data-action": "clear-policy",
              disabled: context.busy || context.gasless,
              onclick: () => context.actions.clearPolicy(),
            },
            "Clear policy",
          )
        : null,
    ),
  );
  // The days are the TS modifier's limit: asked for exactly when TS is ticked.
  const syncTimeLimit = () => {
    const timeLimited = form.querySelector<HTMLInputElement>('input[name="modifier"][value="TS"]')?.checked ?? false;
    const days = form.querySelector<HTMLInputElement>('input[name="maxDays"]') as HTMLInputElement;
    days.disabled = !timeLimited;
  };
  form.addEventListener("change", syncTimeLimit);
  syncTimeLimit();
  return section(
    "policy",
    "Standing policy",
    "Requests that fit it are approved at once, without asking you.",
    summary,
    h("details", { id: "policy-details" }, h("summary", null, policy ? "Edit the policy" : "Set a policy"), form),
  );
}

// ------------------------------------------------------------------------------------------------
// Delegates and emergency access

export function validateDelegate(form: HTMLFormElement, now: number, patient: string): FieldErrors {
  const errors: FieldErrors = {};
  const delegate = checkAddress(formValue(form, "delegate"), patient, "the delegate");
  if (delegate) errors.delegate = delegate;
  const until = checkFutureDay(formValue(form, "until"), now);
  if (until) errors.until = until;
  return errors;
}

export function renderDelegates(data: DashboardData, context: ViewContext): HTMLElement {
  const list = data.delegates.map((delegate) =>
    h(
      "li",
      { "data-testid": "delegate", "data-delegate": delegate.address },
      who(delegate.address, context),
      h("small", null, ` until ${day(delegate.validUntil)} (${relative(delegate.validUntil, data.now)})`),
      h(
        "small",
        { class: "delegate-scope", "data-testid": "delegate-scope" },
        ` · may grant for ${purposeMaskText(delegate.purposes)}` +
          (delegate.sensitiveClasses ? ", sensitive classes included" : ", no sensitive classes"),
      ),
      " ",
      h(
        "button",
        {
          class: "danger small",
          id: idOf("remove-delegate", delegate.address),
          "data-action": "remove-delegate",
          "aria-label": `Remove ${nameOf(delegate.address, context)} as your delegate`,
          disabled: context.busy || context.gasless,
          onclick: () => context.actions.removeDelegate(delegate.address),
        },
        "Remove",
      ),
    ),
  );
  const form = h(
    "form",
    {
      class: "inline",
      id: "delegate-form",
      "data-testid": "delegate-form",
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        const target = event.currentTarget as HTMLFormElement;
        const errors = validateDelegate(target, data.now, context.patient);
        showFieldErrors(target, errors);
        if (Object.keys(errors).length) return;
        context.actions.addDelegate(formValue(target, "delegate"), endOfDay(formValue(target, "until")) ?? new Date(0));
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: "delegate-address" }, "Delegate's address"),
      h("input", {
        id: "delegate-address",
        name: "delegate",
        placeholder: "0x…",
        autocomplete: "off",
        spellcheck: "false",
      }),
      errorSlot("delegate-form", "delegate"),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "delegate-until" }, "Until (last day)"),
      h("input", { id: "delegate-until", type: "date", name: "until" }),
      errorSlot("delegate-form", "until"),
    ),
    h(
      "button",
      { type: "submit", "data-action": "add-delegate", disabled: context.busy || context.gasless },
      "Review the delegate",
    ),
  );
  return section(
    "delegates",
    "Delegates",
    "A parent or carer who may decide for you until a date you choose.",
    unreadNote(data, context, "delegates", "delegates"),
    list.length ? h("ul", { class: "plain" }, list) : empty("No delegates."),
    form,
  );
}

export function renderEmergency(data: DashboardData, context: ViewContext): HTMLElement {
  return section(
    "emergency",
    "Emergency access",
    "An accredited provider may open a short, logged window on your records when you cannot be asked.",
    unreadNote(data, context, "emergencyWindows", "open emergency windows"),
    h(
      "label",
      { class: "switch" },
      h("input", {
        type: "checkbox",
        id: "emergency-opt-out",
        "data-action": "emergency-opt-out",
        checked: data.optedOut,
        disabled: context.busy || context.gasless,
        onchange: (event: Event) => context.actions.setOptOut((event.currentTarget as HTMLInputElement).checked),
      }),
      " Opt out of emergency access",
    ),
    h(
      "p",
      { "data-testid": "emergency-state" },
      data.optedOut ? badge("opted out", "warn") : badge("allowed", "ok"),
      data.optedOut
        ? " No provider can break the glass on your records."
        : " Providers can break the glass; every opening is in your audit trail.",
    ),
    data.emergencyWindows.map((window) =>
      h(
        "p",
        { class: "note warn", "data-testid": "emergency-window" },
        "Open now: ",
        who(window.provider, context),
        ` may read your records in an emergency until ${dateTime(window.until)} (${relative(window.until, data.now)}).`,
      ),
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
  const changes = auditChange(data.audit, (address) => nameOf(address, context));
  // Older entries are shown by block until the person asks for their times (each is a read of the node).
  const undated = data.audit.filter((entry) => entry.time === undefined).length;
  const entries = data.audit
    .map((entry, index) => ({ entry, change: changes[index] }))
    .reverse()
    .map(({ entry, change }) => {
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
          "data-basis": entry.basis ?? "",
          "data-request-id": entry.requestId ?? "",
          "data-time": entry.time ?? "",
          "data-block": entry.blockNumber,
        },
        entry.time === undefined
          ? h("span", { class: "time" }, `block ${entry.blockNumber}`)
          : h("time", null, dateTime(entry.time)),
        h(
          "div",
          null,
          h("strong", null, ACTION_TEXT[entry.action]),
          party ? [" · ", who(party, context)] : null,
          entry.basis ? h("span", { class: "basis" }, ` ${BASIS_TEXT[entry.basis]}`) : null,
          h(
            "p",
            { class: "change", "data-testid": "audit-change" },
            h("span", { class: "affected" }, `Affects ${change.affected}: `),
            change.what,
          ),
          h(
            "div",
            { class: "meta" },
            entry.dataClasses !== undefined ? sensitiveFlags(entry.dataClasses) : null,
            actorShown || isPatient(entry.actor) ? null : h("span", null, "by ", who(entry.actor, context)),
            entry.recordId
              ? h("span", null, "record ", h("code", { title: entry.recordId }, shortHash(entry.recordId)))
              : null,
            entry.releaseBatchRoot && entry.action === "key-released"
              ? h("span", { title: `Merkle root ${entry.releaseBatchRoot}` }, "logged in a batch, proven on chain")
              : null,
            entry.verified !== undefined
              ? h(
                  "span",
                  { class: entry.verified ? "verified" : "unverified", "data-testid": "audit-verification" },
                  entry.verification ?? (entry.verified ? "Verified on chain" : "Not verified: the custodian's claim"),
                )
              : null,
            h(
              "span",
              null,
              h(
                "code",
                { title: `transaction ${entry.transactionHash}, block ${entry.blockNumber}` },
                `block ${entry.blockNumber}`,
              ),
            ),
          ),
        ),
      );
    });
  return section(
    "audit",
    "Audit trail",
    "Rebuilt from the ledger's events and the custodian's proven release logs: who did what with your data, and on what basis.",
    data.auditWarning
      ? h(
          "div",
          { class: "note warn", "data-testid": "audit-warning", role: "alert" },
          h("p", null, data.auditWarning),
          h(
            "button",
            { "data-action": "retry-gateway", disabled: context.busy, onclick: () => context.actions.reload() },
            "Retry",
          ),
        )
      : null,
    entries.length
      ? h("ol", { class: "timeline", tabindex: 0, "aria-label": "Audit trail, newest first" }, entries)
      : empty("Nothing has happened yet."),
    h(
      "div",
      { class: "buttons end" },
      undated
        ? h(
            "button",
            {
              class: "link",
              "data-action": "audit-details",
              disabled: context.busy,
              onclick: () => context.actions.auditDetails(),
            },
            `Show the time of the ${undated} older ${undated === 1 ? "entry" : "entries"}`,
          )
        : null,
      h(
        "button",
        { class: "link", "data-action": "export-audit", onclick: () => context.actions.exportAudit() },
        "Download as a FHIR AuditEvent bundle",
      ),
    ),
  );
}

export function renderSummary(data: DashboardData): HTMLElement {
  const stat = (label: string, value: string | number, testid: string) =>
    h(
      "div",
      { class: "stat", "data-testid": testid },
      h("span", { class: "value" }, String(value)),
      h("span", { class: "label" }, label),
    );
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
