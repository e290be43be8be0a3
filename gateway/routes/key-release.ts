/**
 * POST /records/:recordId/key {purpose} (bearer): the record's data key wrapped to the caller's X25519 key
 * from KeyDirectory, if the chain allows it at that block; journaled before the key leaves.
 */
import type { FastifyInstance } from "fastify";

import { bytesToHex, FormatError, type LedgerContracts } from "../../sdk/index";
import { wrapDataKeyNative } from "../../sdk/node";
import type { AccessLogWriter } from "../access-log-writer";
import type { Authenticator } from "../auth";
import { authorizeRelease, basisName, purposeName } from "../authorize";
import type { ChainReader } from "../chain-reader";
import { conflict } from "../http-error";
import type { JournalCommitter } from "../journal-committer";
import type { KeyVault } from "../key-vault";
import type { AccountRateLimiter } from "../rate-limit";
import { keySchema } from "../schemas";
import { isHeldAsShare } from "../share-routes";
import type { GatewayStore } from "../store";
import { heldRecord, recordReader, requestedPurpose } from "./record-access";
import { journalRelease } from "./journal-release";

export interface KeyReleasePluginOptions {
  contracts: LedgerContracts;
  custodian: string;
  chain: ChainReader;
  store: GatewayStore;
  vault: KeyVault;
  authenticator: Authenticator;
  /** The record routes' per-account allowance (shared with gateway/routes/records.ts). */
  limiter: AccountRateLimiter;
  journal: JournalCommitter;
  writer: AccessLogWriter;
  /** Blocks that must follow what allows a release (see authorizeRelease). */
  confirmations: number;
  now: () => number;
}

export async function keyReleasePlugin(app: FastifyInstance, options: KeyReleasePluginOptions): Promise<void> {
  const { contracts, custodian, chain, store, vault, journal, writer, confirmations, now } = options;
  const reader = recordReader(options.authenticator, options.limiter);

  app.post<{ Params: { recordId: string }; Body: { purpose: string | number } }>(
    "/records/:recordId/key",
    { schema: keySchema },
    async (request) => {
      const requestedAt = now();
      const requester = await reader(request);
      const purpose = requestedPurpose(request.body.purpose);
      const record = heldRecord(store, request.params.recordId);
      if (isHeldAsShare(record))
        throw conflict(
          "HeldAsShare",
          `this custodian holds one share of record ${record.recordId}'s key, not the key: ask for its share (POST /records/${record.recordId}/share)`,
        );
      const decision = await authorizeRelease(chain, contracts, custodian, record, requester, purpose, confirmations);

      const dataKey = await vault.open(record.recordId, { iv: record.keyIv, ciphertext: record.keyCiphertext });
      let wrapped: Uint8Array;
      try {
        wrapped = await wrapDataKeyNative(dataKey, decision.publicKey, record.recordId);
      } catch (cause) {
        if (cause instanceof FormatError) {
          throw conflict(
            "EncryptionKeyInvalid",
            `${requester}'s registered encryption key is not a usable X25519 key: register an encryption key again`,
          );
        }
        throw cause;
      } finally {
        dataKey.fill(0);
      }
      const { releaseId, releasedAt } = await journalRelease(
        { journal, writer, log: request.log },
        { recordId: record.recordId, grantee: requester, purpose, decision, requestedAt },
        "key released",
        { purpose: purposeName(purpose), basis: basisName(decision.basis) },
      );
      return {
        recordId: record.recordId,
        wrappedKey: bytesToHex(wrapped),
        basis: basisName(decision.basis),
        purpose: purposeName(purpose),
        releaseId,
        superseded: decision.superseded,
        checkedBlock: decision.block.number,
        releasedAt,
        batch: record.batch,
      };
    },
  );
}
