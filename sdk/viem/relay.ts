/**
 * relaySignedConsent for viem: submits a patient's signed consent action with the relayer's wallet (the
 * relayer pays the gas), after the same checks as the ethers entry's (sdk/clients/signed-consent.ts).
 */
import type { WalletClient } from "viem";

import { requireAddress } from "../args";
import { consentLedgerAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import { toAbiRequest } from "../clients/request-rules";
import { parseSignedConsent } from "../clients/signed-consent";
import type { SignedConsent } from "../clients/types";
import type { TransactionOverrides } from "../core/overrides";
import { InvalidArgumentError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { requireWallet, send } from "./send";

/**
 * Submits a signed consent action. Checks the signature's chain and ledger first, so a relayer learns of
 * a mismatch before paying for a revert.
 */
export async function relaySignedConsent(
  contracts: ViemLedgerContracts,
  relayer: WalletClient,
  signed: SignedConsent,
  overrides?: TransactionOverrides,
): Promise<PendingTransaction<SignedConsent>> {
  const checked = parseSignedConsent(signed);
  const wallet = requireWallet(relayer);
  const ledgerAddress = contracts.deployment.ledger;
  if (BigInt(checked.chainId) !== contracts.chainId || requireAddress(checked.ledger, "ledger") !== ledgerAddress) {
    throw new InvalidArgumentError(
      "signed consent",
      `signed for ledger ${checked.ledger} on chain ${checked.chainId}`,
      {
        hint: `This relayer submits to ${ledgerAddress} on chain ${contracts.chainId}; ask for a signature for it.`,
      },
    );
  }
  const common = [checked.signer, BigInt(checked.nonce), checked.deadline, checked.signature];
  const toRequest = () => {
    const r = checked.request;
    if (!r) throw new InvalidArgumentError("signed consent", `a ${checked.kind} needs its request`);
    return toAbiRequest({ ...r, terms: { ...r.terms, acceptedObligations: BigInt(r.terms.acceptedObligations) } });
  };
  let functionName: string;
  let args: unknown[];
  switch (checked.kind) {
    case "grant":
      if (!checked.grant || !checked.patient)
        throw new InvalidArgumentError("signed consent", "a grant needs patient and grant");
      [functionName, args] = [
        "grantBySig",
        [checked.patient, checked.grant, BigInt(checked.seenConsent ?? "0"), ...common],
      ];
      break;
    case "revoke":
      if (!checked.grantee || !checked.patient)
        throw new InvalidArgumentError("signed consent", "a revoke needs patient and grantee");
      [functionName, args] = ["revokeBySig", [checked.patient, checked.grantee, ...common]];
      break;
    case "approve":
      [functionName, args] = ["approveRequestBySig", [toRequest(), BigInt(checked.seenConsent ?? "0"), ...common]];
      break;
    default:
      [functionName, args] = ["denyRequestBySig", [toRequest(), ...common]];
  }
  const call = { address: ledgerAddress, abi: consentLedgerAbi, functionName, args };
  return send(contracts, wallet, `relay the signed ${checked.kind}`, call, overrides, () => checked);
}
