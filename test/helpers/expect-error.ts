import { expect } from "chai";

import { ConsentLedgerError } from "../../sdk/errors";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ErrorClass<T> = abstract new (...args: any[]) => T;

function check<T extends Error>(error: unknown, type: ErrorClass<T>, label: string): T {
  if (error === undefined) expect.fail(`${label}: expected a ${type.name}, but nothing was thrown`);
  expect(error, `${label}: ${String(error)}`).to.be.instanceOf(type);
  expect(error, `${label}: every SDK failure is a ConsentLedgerError`).to.be.instanceOf(ConsentLedgerError);
  const message = (error as Error).message;
  expect(message.length, `${label}: the message says what went wrong`).to.be.above(10);
  return error as T;
}

/** Runs `fn`, expects it to throw a `type` (a ConsentLedgerError), and returns the error. */
export function expectThrows<T extends Error>(fn: () => unknown, type: ErrorClass<T>, label = "call"): T {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  return check(error, type, label);
}

/** Awaits `promise`, expects it to reject with a `type` (a ConsentLedgerError), and returns the error. */
export async function expectRejects<T extends Error>(
  promise: Promise<unknown>,
  type: ErrorClass<T>,
  label = "call",
): Promise<T> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  return check(error, type, label);
}
