/**
 * A consent decision service for FHIR servers: CDS Hooks `patient-consent-consult`, as the HL7 FHIR
 * Consent Decision Service / LEAP CDS defines it. A FHIR server's consent hook (e.g. a HAPI FHIR
 * ConsentInterceptor, docs/cds-hooks.md) asks whether an actor may see a patient's data for a purpose
 * of use; the answer is one card, CONSENT_PERMIT, CONSENT_DENY or NO_CONSENT, decided by the ledger's
 * `accessBasis` at one block, the latest.
 *
 *   GET  /cds-services                                  public  discovery
 *   POST /cds-services/patient-consent-consult          public  a decision (bounded body, rate limited per client address)
 *   POST /identity-links                                public  link a hospital identifier to a ledger account (two signatures)
 *
 * Identifiers become accounts only through links their owners registered (gateway/identity-links.ts), or
 * when they are CAIP-10 account ids of this chain themselves; anything else gets NO_CONSENT.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { getAddress } from "ethers";

import {
  AccessBasis,
  DataClass,
  type DataClassName,
  Purpose,
  type PurposeName,
  DATA_CLASS_SLICES,
  type LedgerContracts,
} from "../sdk/index";
import { unprocessable, rateLimited } from "./http-error";
import { type IdentityLinkStore, type SignedIdentifierLink, verifyIdentifierLink } from "./identity-links";
import { AccountRateLimiter } from "./rate-limit";

export const HOOK = "patient-consent-consult";
const CAIP10 = "https://chainagnostic.org/CAIPs/caip-10";
const DATA_CLASS_SYSTEM = "https://consent-ledger.org/fhir/CodeSystem/data-class";
const RESOURCE_TYPES = "http://hl7.org/fhir/resource-types";
const ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/** Largest decision request accepted (bytes): a context is a few identifiers and codes. */
export const CDS_BODY_LIMIT = 32 * 1024;

const text = (max: number) => ({ type: "string", minLength: 1, maxLength: max }) as const;
const identifier = {
  type: "object",
  required: ["system", "value"],
  properties: { system: text(256), value: text(256), type: { type: "object" }, use: { type: "string", maxLength: 32 } },
  additionalProperties: false,
} as const;
const coding = {
  type: "object",
  required: ["system", "code"],
  properties: { system: text(256), code: text(64), display: { type: "string", maxLength: 256 } },
  additionalProperties: false,
} as const;

const consultSchema = {
  body: {
    type: "object",
    required: ["hook", "hookInstance", "context"],
    properties: {
      hook: { const: HOOK },
      hookInstance: text(128),
      fhirServer: { type: "string", maxLength: 2048 },
      fhirAuthorization: { type: "object" },
      prefetch: { type: "object" },
      context: {
        type: "object",
        required: ["patientId", "actor", "purposeOfUse"],
        properties: {
          patientId: { type: "array", minItems: 1, maxItems: 8, items: identifier },
          actor: { type: "array", minItems: 1, maxItems: 8, items: identifier },
          purposeOfUse: { type: "array", minItems: 1, maxItems: 10, items: text(32) },
          scope: text(64),
          class: { type: "array", maxItems: 16, items: coding },
          content: { type: "object" },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
} as const;

const linkSchema = {
  body: {
    type: "object",
    required: ["system", "value", "account", "issuedAt", "signature", "attester", "attestation"],
    properties: {
      system: text(256),
      value: text(256),
      account: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
      issuedAt: { type: "integer", minimum: 0, maximum: 2 ** 40 },
      signature: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" },
      attester: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
      attestation: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" },
    },
    additionalProperties: false,
  },
} as const;

interface Identifier {
  system: string;
  value: string;
}
interface ConsultBody {
  hook: string;
  hookInstance: string;
  context: {
    patientId: Identifier[];
    actor: Identifier[];
    purposeOfUse: string[];
    scope?: string;
    class?: { system: string; code: string }[];
  };
}

export interface ConsentDecisionOptions {
  contracts: LedgerContracts;
  links: IdentityLinkStore;
  publicUrl: () => string;
  /** Decisions per client address per minute; 0 for no limit. */
  rateLimitPerMinute: number;
  now: () => number;
}

export type Decision = "CONSENT_PERMIT" | "CONSENT_DENY" | "NO_CONSENT";

/** The data classes a `context.class` coding names: one of ours, or every class a resource type may hold. */
function classesOf(codings: readonly { system: string; code: string }[] | undefined): DataClassName[] {
  if (!codings || codings.length === 0) return Object.keys(DataClass) as DataClassName[];
  const names = new Set<DataClassName>();
  codings.forEach((c, i) => {
    if (c.system === DATA_CLASS_SYSTEM && c.code in DataClass) names.add(c.code as DataClassName);
    else if (c.system === RESOURCE_TYPES) {
      const matching = (Object.keys(DATA_CLASS_SLICES) as DataClassName[]).filter((name) =>
        DATA_CLASS_SLICES[name].some((slice) => slice.class.includes(c.code)),
      );
      if (matching.length === 0)
        throw unprocessable(
          "UnknownDataClass",
          `context.class[${i}]: no data class on the ledger holds ${c.code} resources`,
        );
      matching.forEach((name) => names.add(name));
    } else {
      throw unprocessable(
        "UnknownDataClass",
        `context.class[${i}]: ${c.system}|${c.code} is neither a FHIR resource type nor a data class of ${DATA_CLASS_SYSTEM}`,
      );
    }
  });
  return [...names];
}

export async function consentDecisionRoutes(app: FastifyInstance, options: ConsentDecisionOptions): Promise<void> {
  const { contracts, links } = options;
  const chainId = contracts.chainId;
  const limiter = new AccountRateLimiter(options.rateLimitPerMinute);
  const withinLimit = (request: FastifyRequest) => {
    const decision = limiter.take(`ip:${request.ip}`);
    if (!decision.allowed) {
      throw rateLimited(
        `${request.ip} made more than ${limiter.perMinute} decision or link requests in a minute: retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
  };

  /** The one account some of `identifiers` are linked to (or name, as CAIP-10 ids of this chain). */
  const accountOf = (identifiers: readonly Identifier[], what: string): string | undefined => {
    const accounts = new Set<string>();
    for (const id of identifiers) {
      if (id.system === CAIP10) {
        const match = /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(id.value);
        if (match && BigInt(match[1]) === chainId) accounts.add(getAddress(match[2].toLowerCase()));
        continue;
      }
      const linked = links.accountOf(id.system, id.value);
      if (linked) accounts.add(linked);
    }
    if (accounts.size > 1)
      throw unprocessable(
        "AmbiguousIdentifiers",
        `the ${what} identifiers name different accounts: ${[...accounts].join(", ")}`,
      );
    return [...accounts][0];
  };

  app.get("/cds-services", async () => ({
    services: [
      {
        hook: HOOK,
        id: HOOK,
        title: "Consent Ledger consent decision service",
        description:
          "Decides from the patient's consents on the Consent Ledger (at the latest block) whether an actor may access the patient's data for the purposes of use and classes given: CONSENT_PERMIT, CONSENT_DENY or NO_CONSENT.",
        usageRequirements:
          "Patients and practitioners must have linked their identifiers to ledger accounts (POST /identity-links), or be named by CAIP-10 account ids.",
      },
    ],
  }));

  app.post<{ Body: ConsultBody }>(
    `/cds-services/${HOOK}`,
    { schema: consultSchema, bodyLimit: CDS_BODY_LIMIT },
    async (request) => {
      withinLimit(request);
      const { context } = request.body;
      if (context.scope !== undefined && context.scope !== "patient-privacy" && context.scope !== "research") {
        throw unprocessable(
          "UnsupportedScope",
          `context.scope ${context.scope}: the ledger decides privacy consents (patient-privacy, research)`,
        );
      }
      const purposes = context.purposeOfUse.map((code, i) => {
        if (!(code in Purpose))
          throw unprocessable(
            "UnknownPurpose",
            `context.purposeOfUse[${i}]: ${code} is not a purpose the ledger knows (${Object.keys(Purpose).join(", ")})`,
          );
        return code as PurposeName;
      });
      const classes = classesOf(context.class);
      const card = (decision: Decision, detail: string, extension: Record<string, unknown> = {}) => ({
        cards: [
          {
            summary: decision,
            detail,
            indicator: decision === "CONSENT_PERMIT" ? "info" : "warning",
            source: { label: "Consent Ledger", url: options.publicUrl() },
            extension: { decision, ...extension },
          },
        ],
      });

      const patient = accountOf(context.patientId, "patient");
      const actor = accountOf(context.actor, "actor");
      if (!patient)
        return card(
          "NO_CONSENT",
          "No ledger account is linked to the patient's identifiers, so the ledger holds no consent of theirs.",
        );
      if (!actor)
        return card(
          "NO_CONSENT",
          "No ledger account is linked to the actor's identifiers, so no consent on the ledger names them.",
        );

      const block = await contracts.provider.getBlockNumber();
      const at = { blockTag: block };
      const pairs = classes.flatMap((name) => [...new Set(purposes)].map((purpose) => [name, purpose] as const));
      const bases = await Promise.all(
        pairs.map(([name, purpose]) =>
          contracts.ledger.accessBasis(patient, actor, DataClass[name], Purpose[purpose], at).then(Number),
        ),
      );
      const permitted = classes.filter((name) => pairs.every(([n], i) => n !== name || bases[i] !== AccessBasis.None));
      const emergency = bases.some((basis) => basis === AccessBasis.Emergency);
      // The card names no account and no consent identifier: the caller is not authenticated, and the link
      // from a hospital identifier to an account (and so to its public history on chain) is not its to learn.
      const common = { ledgerBlock: block };

      if (permitted.length === 0) {
        const [consent, optedOut] = await Promise.all([
          contracts.ledger.consentOf(patient, actor, at),
          contracts.ledger.emergencyOptedOut(patient, at),
        ]);
        if (consent.validUntil > 0n) {
          return card(
            "CONSENT_DENY",
            `The patient's consent to this actor does not cover ${purposes.join(", ")} for these data (or it has not started, has ended, or the actor's accreditation lapsed).`,
            {
              ...common,
            },
          );
        }
        if (optedOut && purposes.some((p) => p === "ETREAT" || p === "TREAT")) {
          return card(
            "CONSENT_DENY",
            "The patient has opted out of emergency access, and has given this actor no consent.",
            common,
          );
        }
        return card("NO_CONSENT", "The patient has given this actor no consent on the ledger.", common);
      }
      const denied = classes.filter((name) => !permitted.includes(name));
      return card(
        "CONSENT_PERMIT",
        denied.length === 0
          ? `Permitted for ${purposes.join(", ")}${emergency ? " under an emergency (break-the-glass) window" : " under the patient's consent"}.`
          : `Permitted for ${permitted.join(", ")} only; redact ${denied.join(", ")}.`,
        {
          ...common,
          basis: emergency ? "emergency" : "consent",
          obligations: denied.flatMap((name) =>
            DATA_CLASS_SLICES[name].map((slice) => ({
              obligation: { system: ACT_CODE, code: "REDACT" },
              content: {
                class: slice.class.map((code) => ({ system: RESOURCE_TYPES, code })),
                ...(slice.code ? { code: [slice.code] } : {}),
                ...(slice.securityLabel ? { securityLabel: [slice.securityLabel] } : {}),
              },
            })),
          ),
        },
      );
    },
  );

  app.post<{ Body: SignedIdentifierLink }>(
    "/identity-links",
    { schema: linkSchema, bodyLimit: 4 * 1024 },
    async (request, reply) => {
      withinLimit(request);
      const link = await verifyIdentifierLink(request.body, contracts, Math.floor(options.now() / 1000));
      const outcome = links.put(link);
      request.log.info(
        { system: link.system, account: link.account, attester: link.attester, outcome },
        "identifier linked",
      );
      return reply
        .status(outcome === "created" ? 201 : 200)
        .send({ system: link.system, value: link.value, account: link.account, outcome });
    },
  );
}
