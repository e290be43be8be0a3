/**
 * GA4GH Passport v1.2 visas for researchers: while a patient's research consent to a researcher stands
 * (approved by the patient, or by their standing policy), the custodian issues that researcher, on
 * request, a short-lived `ControlledAccessGrants` visa for the patient's dataset at this gateway, so that
 * a repository that speaks GA4GH Passports can let them in. Visas are JWTs signed (ES256, with `jose`)
 * by a key the gateway keeps sealed under its master key and publishes at /.well-known/jwks.json.
 *
 *   GET  /.well-known/jwks.json      public   the visa signing key (public part)
 *   POST /ga4gh/visas {patient}      bearer   a visa for the caller, if the ledger shows the consent live now
 *
 * A visa is never renewed by itself: each one is issued after reading the chain at the latest block, and
 * lives at most `visaTtlSeconds` (never past the consent's end). A revoked consent gets no new visa; one
 * already issued lapses within its lifetime, which is why that lifetime is short.
 */
import { randomUUID } from "node:crypto";

import type { FastifyInstance, FastifyRequest } from "fastify";
import { getAddress, keccak256, toUtf8Bytes } from "ethers";
import { SignJWT, exportJWK, generateKeyPair, importJWK, calculateJwkThumbprint, type JWK } from "jose";

import { AccessBasis, DataClass, Purpose, RESEARCH_PURPOSES, codesOf, type LedgerContracts } from "../sdk/index";
import type { Authenticator } from "./auth";
import { forbidden, rateLimited } from "./http-error";
import type { IdentityLinkStore } from "./identity-links";
import type { KeyVault } from "./key-vault";
import { AccountRateLimiter } from "./rate-limit";

export const VISA_TTL_SECONDS = 3600;
const SIGNING_KEY_META = "visaSigningKey";
/** The AAD the signing key is sealed under (the vault seals 32-byte ids). */
const SIGNING_KEY_ID = keccak256(toUtf8Bytes("consent-ledger/gateway/visa-signing-key"));

export interface VisaOptions {
  contracts: LedgerContracts;
  authenticator: Authenticator;
  vault: KeyVault;
  store: IdentityLinkStore;
  publicUrl: () => string;
  rateLimitPerMinute: number;
  visaTtlSeconds?: number;
  now: () => number;
}

/** The gateway's ES256 visa key: loaded from the store (sealed), or made and stored on first start. */
async function signingKey(store: IdentityLinkStore, vault: KeyVault, log: FastifyInstance["log"]) {
  const sealed = store.getMeta(SIGNING_KEY_META);
  if (sealed) {
    try {
      const iv = sealed.subarray(0, 12);
      const json = await vault.open(SIGNING_KEY_ID, { iv, ciphertext: sealed.subarray(12) });
      const jwk = JSON.parse(Buffer.from(json).toString("utf8")) as JWK;
      return { privateKey: await importJWK(jwk, "ES256"), jwk };
    } catch (cause) {
      // After a master-key rotation the old seal no longer opens: a new key is made; visas signed with the
      // old one fail verification from now on, and they were short-lived anyway.
      log.warn({ err: cause }, "the stored visa signing key does not open; making a new one");
    }
  }
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { iv, ciphertext } = await vault.seal(SIGNING_KEY_ID, Buffer.from(JSON.stringify(jwk), "utf8"));
  store.setMeta(SIGNING_KEY_META, Buffer.concat([iv, ciphertext]));
  return { privateKey, jwk };
}

export async function visaRoutes(app: FastifyInstance, options: VisaOptions): Promise<void> {
  const { contracts } = options;
  const ttl = options.visaTtlSeconds ?? VISA_TTL_SECONDS;
  const { privateKey, jwk } = await signingKey(options.store, options.vault, app.log);
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const kid = await calculateJwkThumbprint(publicJwk);
  const limiter = new AccountRateLimiter(options.rateLimitPerMinute);

  app.get("/.well-known/jwks.json", async (_request, reply) =>
    reply
      .header("cache-control", "public, max-age=300")
      .send({ keys: [{ ...publicJwk, kid, alg: "ES256", use: "sig" }] }),
  );

  app.post<{ Body: { patient: string } }>(
    "/ga4gh/visas",
    {
      bodyLimit: 1024,
      schema: {
        body: {
          type: "object",
          required: ["patient"],
          properties: { patient: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } },
          additionalProperties: false,
        },
      },
    },
    async (request: FastifyRequest<{ Body: { patient: string } }>) => {
      const researcher = await options.authenticator.authenticate(request.headers.authorization);
      const allowance = limiter.take(researcher);
      if (!allowance.allowed) {
        throw rateLimited(
          `${researcher} asked for more than ${limiter.perMinute} visas in a minute: retry in ${allowance.retryAfterSeconds} s`,
          allowance.retryAfterSeconds,
        );
      }
      const patient = getAddress(request.body.patient.toLowerCase());
      const block = await contracts.provider.getBlock("latest");
      if (!block) throw new Error("the node returned no latest block");
      const at = { blockTag: block.number };
      const consent = await contracts.ledger.consentOf(patient, researcher, at);
      const purposes = codesOf(Number(consent.purposes)).filter((code) =>
        RESEARCH_PURPOSES.some((name) => Purpose[name] === code),
      );
      const classes = codesOf(Number(consent.dataClasses));
      const live =
        consent.validUntil > 0n &&
        Number(consent.validFrom) <= block.timestamp &&
        block.timestamp < Number(consent.validUntil);
      if (!live || purposes.length === 0 || classes.length === 0) {
        throw forbidden(
          "NoResearchConsent",
          `${patient} has no research consent to ${researcher} in force at block ${block.number}`,
        );
      }
      // The ledger's own access check: the consent covers it and the researcher's accreditation is live.
      const bases = await Promise.all(
        purposes.map((purpose) => contracts.ledger.accessBasis(patient, researcher, classes[0], purpose, at)),
      );
      if (bases.some((basis) => Number(basis) !== AccessBasis.Consent)) {
        throw forbidden(
          "NoResearchConsent",
          `the ledger does not let ${researcher} read ${patient}'s data for research at block ${block.number} (is the accreditation live?)`,
        );
      }
      const grants = await contracts.ledger.queryFilter(
        contracts.ledger.filters.ConsentGranted(patient, researcher),
        contracts.deployment.deployedAtBlock ?? 0,
        block.number,
      );
      const grantedAt = grants.length > 0 ? (await grants[grants.length - 1].getBlock()).timestamp : block.timestamp;
      const nowSeconds = Math.floor(options.now() / 1000);
      // When the consent was given (or took effect), on the chain's clock; never after the visa's own iat.
      const asserted = Math.min(Math.max(grantedAt, Number(consent.validFrom)), nowSeconds);
      // The consent's remaining time on the chain's clock, counted from this gateway's: the two may differ.
      const expiresAt = nowSeconds + Math.min(ttl, Number(consent.validUntil) - block.timestamp);
      const issuer = options.publicUrl();
      const dataset = `${issuer}/datasets/eip155:${contracts.chainId}:${patient}`;
      const visa = await new SignJWT({
        ga4gh_visa_v1: { type: "ControlledAccessGrants", asserted, value: dataset, source: issuer, by: "dac" },
      })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid, jku: `${issuer}/.well-known/jwks.json` })
        .setIssuer(issuer)
        .setSubject(`eip155:${contracts.chainId}:${researcher}`)
        .setIssuedAt(nowSeconds)
        .setExpirationTime(expiresAt)
        .setJti(randomUUID())
        .sign(privateKey);
      request.log.info({ researcher, patient, block: block.number, expiresAt }, "visa issued");
      return {
        visa,
        dataset,
        expiresAt: new Date(expiresAt * 1000).toISOString(),
        dataClasses: classes.map((code) =>
          Object.keys(DataClass).find((name) => DataClass[name as keyof typeof DataClass] === code),
        ),
        checkedBlock: block.number,
      };
    },
  );
}
