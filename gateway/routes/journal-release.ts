/**
 * The tail of every release, of a whole key (gateway/routes/key-release.ts) or of a share
 * (gateway/share-routes.ts): journaled on disk before anything leaves, the access-log writer told, and
 * one log line.
 */
import type { FastifyBaseLogger } from "fastify";

import type { AccessLogWriter } from "../access-log-writer";
import type { ReleaseDecision } from "../authorize";
import type { JournalCommitter } from "../journal-committer";

export interface JournaledRelease {
  releaseId: number;
  /** Unix seconds: the chain's time of the block whose state allowed the release. */
  releasedAt: number;
}

/**
 * Journals the release of `recordId` to `grantee` that `decision` allows, tells `writer`, and logs
 * `message` with `fields` (between the grantee and the block). Resolves once the journal row is on disk.
 */
export async function journalRelease(
  { journal, writer, log }: { journal: JournalCommitter; writer: AccessLogWriter; log: FastifyBaseLogger },
  release: { recordId: string; grantee: string; purpose: number; decision: ReleaseDecision; requestedAt: number },
  message: string,
  fields: Record<string, unknown>,
): Promise<JournaledRelease> {
  const { recordId, grantee, purpose, decision, requestedAt } = release;
  // The chain's time of the block whose state allowed the release, not this server's clock: the
  // audit trail orders releases among the consents and revocations that govern them.
  const releasedAt = decision.block.timestamp;
  const releaseId = await journal.journal({
    recordId,
    grantee,
    purpose,
    basis: decision.basis,
    releasedAt,
    checkedBlock: decision.block.number,
    checkedBlockHash: decision.block.hash,
    requestedAt,
  });
  writer.notifyRelease();
  log.info({ releaseId, recordId, grantee, ...fields, block: decision.block.number }, message);
  return { releaseId, releasedAt };
}
