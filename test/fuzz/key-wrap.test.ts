/**
 * Fuzzing wrapped data keys (sdk/crypto/key-wrap.ts): unwrapDataKey reads 96 bytes a gateway or custodian
 * sent. Whatever arrives, it must end in a ConsentLedgerError (FormatError, WrongRecipientKeyError, a
 * DecryptionError; InvalidArgumentError for the caller's own arguments), never a crash, and NEVER a data
 * key other than the one wrapped: a wrapped key that is not exactly the one made for this reader and this
 * record does not open.
 */
import { expect } from "chai";
import fc from "fast-check";

import { bytesEqual, bytesToHex } from "../../sdk/crypto/bytes";
import { WRAPPED_KEY_BYTES, WRAPPED_KEY_MAGIC, unwrapDataKey, wrapDataKey } from "../../sdk/crypto/key-wrap";
import { type EncryptionKeyPair, generateEncryptionKeyPair, keyPairFromSecretKey } from "../../sdk/crypto/keys";
import { FormatError, InvalidArgumentError, WrongRecipientKeyError } from "../../sdk/errors";
import { anyValue, damaged, flipBit, fuzz, jsonValue, refused, settle } from "./fuzz";

const FILE = "test/fuzz/key-wrap.test.ts";
const RECORD_ID = `0x${"5a".repeat(32)}`;

/** u-coordinates of Curve25519's small-order points, and their non-canonical twins, little-endian. */
const P = 2n ** 255n - 19n;
const LOW_ORDER = [
  0n,
  1n,
  P - 1n,
  P,
  P + 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
].map((u) => Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn)));

describe("fuzzing sdk/crypto/key-wrap", function () {
  const recipient = generateEncryptionKeyPair();
  const dataKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
  let wrapped: Uint8Array;

  before(async function () {
    wrapped = await wrapDataKey(dataKey, recipient.publicKey, RECORD_ID);
  });

  it("the fuzzed wrapped key is a real one: it opens to its exact data key", async function () {
    expect(bytesToHex(await unwrapDataKey(wrapped, recipient, RECORD_ID))).to.equal(bytesToHex(dataKey));
  });

  it("refuses any bytes but the wrapped key itself, never yielding a key", async function () {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc
        .uint8Array({ minLength: WRAPPED_KEY_BYTES - 4, maxLength: WRAPPED_KEY_BYTES - 4 })
        .map((rest) => Uint8Array.from([...WRAPPED_KEY_MAGIC, ...rest])),
    );
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(bytes, async (input) => {
        await refused("unwrapDataKey", () => unwrapDataKey(input, recipient, RECORD_ID), [
          FormatError,
          WrongRecipientKeyError,
        ]);
      }),
      500,
    );
  });

  it("never opens a wrapped key with any bit flipped", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(fc.nat(WRAPPED_KEY_BYTES * 8 - 1), async (bit) => {
        const error = await refused(
          `unwrapDataKey with bit ${bit} flipped`,
          () => unwrapDataKey(flipBit(wrapped, bit), recipient, RECORD_ID),
          [FormatError, WrongRecipientKeyError],
        );
        // Past the magic, version and ephemeral key, only the AEAD can (and must) notice.
        if (bit >= 36 * 8) expect(error).to.be.instanceOf(WrongRecipientKeyError);
      }),
      WRAPPED_KEY_BYTES * 8,
    );
  });

  it("never opens a damaged wrapped key (flipped, truncated, extended, overwritten, replaced)", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(damaged(wrapped), async ({ how, bytes }) => {
        await refused(`unwrapDataKey after "${how}"`, () => unwrapDataKey(bytes, recipient, RECORD_ID), [
          FormatError,
          WrongRecipientKeyError,
        ]);
      }),
    );
  });

  it("refuses a forged ephemeral key, low-order or random, with a FormatError or WrongRecipientKeyError", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...LOW_ORDER), fc.uint8Array({ minLength: 32, maxLength: 32 })),
        async (point) => {
          const forged = Uint8Array.from(wrapped);
          forged.set(point, 4);
          if (bytesEqual(forged, wrapped)) return;
          await refused(
            "unwrapDataKey with a forged ephemeral key",
            () => unwrapDataKey(forged, recipient, RECORD_ID),
            [FormatError, WrongRecipientKeyError],
          );
        },
      ),
    );
  });

  it("never opens for another reader or another record", async function () {
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex),
        async (secret, recordId) => {
          const other: EncryptionKeyPair = keyPairFromSecretKey(secret);
          if (!bytesEqual(other.publicKey, recipient.publicKey)) {
            await refused("unwrapDataKey by another reader", () => unwrapDataKey(wrapped, other, RECORD_ID), [
              WrongRecipientKeyError,
            ]);
          }
          if (recordId !== RECORD_ID) {
            await refused("unwrapDataKey for another record", () => unwrapDataKey(wrapped, recipient, recordId), [
              WrongRecipientKeyError,
            ]);
          }
        },
      ),
      100,
    );
  });

  it("answers malformed arguments (key pairs, record ids, non-bytes) with a ConsentLedgerError", async function () {
    const keyPair = fc.oneof(
      fc.constant<unknown>(recipient),
      fc.record({
        publicKey: fc.oneof(fc.uint8Array({ maxLength: 40 }), anyValue),
        secretKey: fc.oneof(fc.uint8Array({ maxLength: 40 }), anyValue),
      }),
      // A mismatched pair: another key's public half.
      fc.constant<unknown>({ publicKey: generateEncryptionKeyPair().publicKey, secretKey: recipient.secretKey }),
      anyValue,
    );
    await fuzz(
      this,
      FILE,
      fc.asyncProperty(
        fc.oneof(fc.constant<unknown>(wrapped), fc.uint8Array({ maxLength: 120 }), anyValue),
        keyPair,
        fc.oneof(
          fc.constant<unknown>(RECORD_ID),
          fc.string(),
          jsonValue.filter((v) => typeof v !== "object" || v === null),
        ),
        async (input, pair, recordId) => {
          const outcome = await settle("unwrapDataKey", () =>
            unwrapDataKey(input as Uint8Array, pair as EncryptionKeyPair, recordId as string),
          );
          if (outcome.ok) {
            // Only the real wrapped key, for the real reader and record, opens: to the real data key.
            expect(input).to.equal(wrapped);
            expect(bytesToHex(outcome.value)).to.equal(bytesToHex(dataKey));
          } else if (input === wrapped && pair === recipient) {
            expect(outcome.error).to.be.instanceOf(InvalidArgumentError);
          }
        },
      ),
    );
  });
});
