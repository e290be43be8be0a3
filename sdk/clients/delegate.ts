/**
 * The delegate's side of "appoint my carer on every pseudonym": the delegate acts for each patient
 * pseudonym with its own account for it, derived from the delegate's wallet like a patient's pseudonyms
 * (PseudonymRoot.forDelegation, id "delegate:<patient pseudonym>"), so no delegate address appears next
 * to two pseudonyms on chain. DelegateIdentity makes the offer the patient appoints from
 * (sdk/clients/delegate-offer.ts) and acts for a pseudonym with the right account, through a relayer:
 * the derived accounts never hold ether either.
 */
import type { LedgerContracts } from "../chain/connect";
import type { PendingTransaction } from "../chain/transactions";
import type { Pseudonym, PseudonymRoot } from "../crypto/pseudonyms";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import { createDelegateOffer, type DelegateOffer } from "./delegate-offer";
import { pseudonymSigner } from "./identity";
import { PatientClient } from "./patient";
import type { ConsentRelayer } from "./relayer";
import type { AccessRequest, Consent, GrantInput } from "./types";

export interface DelegateIdentityOptions {
  /** The relayer the derived accounts' actions go through (they hold no ether). */
  relayer?: ConsentRelayer;
  /** Let the derived accounts send their own transactions (needs ether in each: it links them). */
  allowDirect?: boolean;
}

const NO_RELAYER: ConsentRelayer = {
  submit() {
    throw new ConsentLedgerError("No relayer is configured for this delegate's accounts", {
      hint: "Pass DelegateIdentity a relayer (RelayerClient). A derived account that sends its own transaction needs ether, and its funding links it.",
    });
  },
};

/** A delegate (a carer, a parent) acting for a patient's pseudonyms, one derived account per pseudonym. */
export class DelegateIdentity {
  private readonly clients = new Map<string, PatientClient>();

  constructor(
    readonly contracts: LedgerContracts,
    /** The delegate's own root (derivePseudonymRoot with the delegate's wallet). */
    private readonly root: PseudonymRoot,
    readonly options: DelegateIdentityOptions = {},
  ) {}

  /** The delegate's own account for acting for `patient` (a patient pseudonym's address). */
  accountFor(patient: string): Pseudonym {
    return this.root.forDelegation(patient);
  }

  /**
   * The offer to hand the patient: each of `patients` (the pseudonyms the patient asked cover for) paired
   * with this delegate's account for it, each signing its acceptance. The payload names all of them:
   * give it to the patient only.
   */
  async createOffer(
    patients: readonly string[],
    options: { ttlSeconds?: number; now?: number } = {},
  ): Promise<{ payload: string; offer: DelegateOffer }> {
    if (!Array.isArray(patients) || patients.length === 0)
      throw new InvalidArgumentError("patients", "expected the patient pseudonyms the offer is for");
    return createDelegateOffer(
      patients.map((patient) => ({ patient, signer: pseudonymSigner(this.accountFor(patient)) })),
      {
        chainId: this.contracts.chainId,
        ledger: await this.contracts.ledger.getAddress(),
        ttlSeconds: options.ttlSeconds,
        now: options.now,
      },
    );
  }

  /** The client acting with this delegate's account for `patient`; pass `{ patient }` to its calls. */
  client(patient: string): PatientClient {
    const account = this.accountFor(patient);
    let client = this.clients.get(account.address);
    if (!client) {
      const relayer = this.options.relayer ?? (this.options.allowDirect ? undefined : NO_RELAYER);
      client = new PatientClient(this.contracts, pseudonymSigner(account, this.contracts.provider), {
        relayer,
        allowDirect: this.options.allowDirect,
      });
      this.clients.set(account.address, client);
    }
    return client;
  }

  /** Grants a consent for `patient`, within the scope the patient gave this account. */
  async grant(patient: string, input: GrantInput): Promise<PendingTransaction<Consent>> {
    return this.client(patient).grant(input, { patient });
  }

  /** Revokes `patient`'s consent to `grantee`. */
  async revoke(patient: string, grantee: string) {
    return this.client(patient).revoke(grantee, { patient });
  }

  /** Approves a request made to `patient` (the request names the patient). */
  async approve(patient: string, request: AccessRequest | string) {
    return this.client(patient).approve(request);
  }

  /** Denies a request made to `patient`. */
  async deny(patient: string, request: AccessRequest | string) {
    return this.client(patient).deny(request);
  }
}
