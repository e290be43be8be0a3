/**
 * JSON schemas of every request the gateway accepts (body, params, querystring). Fastify validates each
 * request against them before a handler runs; unknown fields are refused, not dropped.
 */
const address = { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } as const;
const bytes32 = { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } as const;
const purpose = {
  anyOf: [
    { type: "string", minLength: 1, maxLength: 32 },
    { type: "integer", minimum: 0, maximum: 255 },
  ],
} as const;

const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;
const recordParams = {
  type: "object",
  additionalProperties: false,
  required: ["recordId"],
  properties: { recordId: bytes32 },
} as const;

/** Largest envelope accepted at ingest (bytes), and so the body limit of POST /records. */
export const MAX_INGEST_ENVELOPE_BYTES = 16 * 1024 * 1024;
export const INGEST_BODY_LIMIT = Math.ceil((MAX_INGEST_ENVELOPE_BYTES * 4) / 3) + 64 * 1024;

export const healthSchema = { querystring: noQuery } as const;

export const challengeSchema = {
  querystring: noQuery,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["address"],
    properties: { address },
  },
} as const;

export const verifySchema = {
  querystring: noQuery,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["nonce", "signature"],
    properties: {
      nonce: bytes32,
      // 65-byte ECDSA signatures, or an ERC-1271 wallet's (bounded).
      signature: { type: "string", pattern: "^0x([0-9a-fA-F]{2})+$", maxLength: 16_386 },
    },
  },
} as const;

export const ingestSchema = {
  querystring: noQuery,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["recordId", "dataKey", "envelope"],
    properties: {
      recordId: bytes32,
      dataKey: bytes32,
      envelope: {
        type: "string",
        minLength: 4,
        maxLength: Math.ceil(MAX_INGEST_ENVELOPE_BYTES / 3) * 4,
        pattern: "^[A-Za-z0-9+/]*={0,2}$",
      },
      batch: {
        type: "object",
        additionalProperties: false,
        required: ["root", "proof"],
        properties: {
          root: bytes32,
          proof: { type: "array", maxItems: 64, items: bytes32 },
          patient: address,
          dataClass: { type: "integer", minimum: 0, maximum: 255 },
        },
      },
    },
  },
} as const;

export const recordSchema = { params: recordParams, querystring: noQuery } as const;

export const keySchema = {
  params: recordParams,
  querystring: noQuery,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["purpose"],
    properties: { purpose },
  },
} as const;

export const manifestSchema = {
  querystring: noQuery,
  params: {
    type: "object",
    additionalProperties: false,
    required: ["cid"],
    properties: { cid: { type: "string", pattern: "^b[a-z2-7]{58}$" } },
  },
} as const;
