/** GET /manifests/:cid (public): a release-batch manifest, restored from the database if its blob is lost. */
import type { FastifyInstance } from "fastify";
import { toUtf8Bytes } from "ethers";

import { BlobNotFoundError, type BlobStore, CorruptBlobError } from "../../sdk/index";
import { notFound } from "../http-error";
import { manifestSchema } from "../schemas";
import type { GatewayStore } from "../store";

export interface ManifestsPluginOptions {
  store: GatewayStore;
  blobs: BlobStore;
}

export async function manifestsPlugin(app: FastifyInstance, options: ManifestsPluginOptions): Promise<void> {
  const { store, blobs } = options;

  app.get<{ Params: { cid: string } }>("/manifests/:cid", { schema: manifestSchema }, async (request, reply) => {
    const batch = store.batchByManifestCid(request.params.cid);
    if (!batch || !batch.manifest)
      throw notFound("ManifestNotFound", `this gateway published no manifest ${request.params.cid}`);
    let bytes: Uint8Array;
    try {
      bytes = await blobs.get(request.params.cid);
    } catch (cause) {
      if (!(cause instanceof BlobNotFoundError || cause instanceof CorruptBlobError)) throw cause;
      request.log.warn({ cid: request.params.cid }, "manifest blob missing or damaged; restoring it from the database");
      bytes = toUtf8Bytes(batch.manifest);
      await blobs.put(bytes);
    }
    return reply
      .header("content-type", "application/json")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
