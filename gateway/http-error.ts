/**
 * The one error shape the gateway answers with: `{ "error": "<Name>", "reason": "<what happened and what
 * to do>" }` and an HTTP status. Route handlers throw a GatewayHttpError; the server's error handler
 * turns it (and Fastify's own validation errors) into that body.
 */
export class GatewayHttpError extends Error {
  override name = "GatewayHttpError";

  constructor(
    /** HTTP status. */
    readonly status: number,
    /** A stable, machine-readable name: AccessDenied, Unauthenticated, RecordNotFound, ... */
    readonly error: string,
    /** One sentence for a person: what was refused and why. */
    readonly reason: string,
    /** Response headers that go with it (Retry-After on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${reason}`);
  }

  toJSON(): { error: string; reason: string } {
    return { error: this.error, reason: this.reason };
  }
}

export const badRequest = (reason: string) => new GatewayHttpError(400, "InvalidRequest", reason);
export const unauthenticated = (reason: string) => new GatewayHttpError(401, "Unauthenticated", reason);
export const forbidden = (error: string, reason: string) => new GatewayHttpError(403, error, reason);
export const notFound = (error: string, reason: string) => new GatewayHttpError(404, error, reason);
export const conflict = (error: string, reason: string) => new GatewayHttpError(409, error, reason);
export const unprocessable = (error: string, reason: string) => new GatewayHttpError(422, error, reason);
export const tooManyRequests = (reason: string) => new GatewayHttpError(429, "TooManyRequests", reason);
export const rateLimited = (reason: string, retryAfterSeconds: number) =>
  new GatewayHttpError(429, "RateLimited", reason, { "retry-after": String(retryAfterSeconds) });
export const unavailable = (error: string, reason: string) => new GatewayHttpError(503, error, reason);
