/**
 * The tests' real `hardhat node`: scripts/lib/local-node.ts starts one, and `sharedLocalNode()` starts
 * one per test process, stopped in mocha's root `after` hook, so several test files share one start-up
 * (each deploys its own contracts).
 */
import { startLocalNode, type LocalNode } from "../../scripts/lib/local-node";

export {
  exited,
  freePort,
  killGroup,
  killOnExit,
  rpc,
  startLocalNode,
  type LocalNode,
} from "../../scripts/lib/local-node";

let shared: Promise<LocalNode> | undefined;

/** One node for the whole test process, stopped after the last test (mocha root hook) or at exit. */
export function sharedLocalNode(): Promise<LocalNode> {
  if (!shared) {
    shared = startLocalNode();
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}

/** Stops the shared node, if one was started. */
export async function stopSharedLocalNode(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) await (await current.catch(() => undefined))?.stop();
}

// Under mocha (hardhat test), stop the shared node after every test file has run.
declare const after: ((fn: () => Promise<void>) => void) | undefined;
if (typeof after === "function") after(stopSharedLocalNode);
