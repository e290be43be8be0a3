/**
 * Latency of the consent decision service and of visa issuance, on loopback only: one `hardhat node`, one
 * gateway in this process, requests sent one after another (bounded: --requests each, default 200).
 *
 *   npx ts-node --transpile-only bench/consent-decision.ts [--requests 200]
 *
 * Three cases: a decision for one data class and one purpose (one accessBasis call), a decision for every
 * class (fifteen calls, then consentOf and the opt-out), and a visa (consentOf, accessBasis, the grant's
 * event and an ES256 signature). Prints p50/p95/max in ms and requests per second.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { GatewayClient } from "../sdk/clients/gateway";
import { PatientClient } from "../sdk/clients/patient";
import { startLocalNode } from "../scripts/lib/local-node";
import { chainNow, DAY, setupLedger, startTestGateway } from "../test/helpers/gateway-harness";

async function main() {
  const { values } = parseArgs({ options: { requests: { type: "string", default: "200" } } });
  const requests = Math.min(5000, Math.max(1, Number(values.requests)));
  const node = await startLocalNode();
  const setup = await setupLedger(node);
  const { gateway } = await startTestGateway(setup, { rateLimitPerMinute: 0 });
  try {
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    const until = (await chainNow(setup.provider)) + DAY;
    await (
      await patient.grant({
        grantee: setup.signers.clinician.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: until,
      })
    ).wait();
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH"],
        validUntil: until,
      })
    ).wait();
    const caip = (address: string) => [
      { system: "https://chainagnostic.org/CAIPs/caip-10", value: `eip155:31337:${address}` },
    ];
    const decide = (classes?: object[]) =>
      fetch(`${gateway.url}/cds-services/patient-consent-consult`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          hook: "patient-consent-consult",
          hookInstance: "bench",
          context: {
            patientId: caip(setup.signers.patient.address),
            actor: caip(setup.signers.clinician.address),
            purposeOfUse: ["TREAT"],
            ...(classes ? { class: classes } : {}),
          },
        }),
      }).then(async (response) => {
        const body = (await response.json()) as { cards?: { summary: string }[] };
        if (response.status !== 200 || body.cards?.[0].summary !== "CONSENT_PERMIT")
          throw new Error(`unexpected answer ${response.status} ${JSON.stringify(body)}`);
      });
    const researcher = new GatewayClient(
      gateway.url,
      setup.signers.researcher,
      await setup.as(setup.signers.researcher),
    );
    await researcher.authenticate();

    const cases: [string, () => Promise<unknown>][] = [
      [
        "decision, one class (1 accessBasis)",
        () => decide([{ system: "https://consent-ledger.org/fhir/CodeSystem/data-class", code: "LAB_RESULT" }]),
      ],
      ["decision, every class (15 accessBasis)", () => decide()],
      ["visa", () => researcher.requestVisa(setup.signers.patient.address)],
    ];
    for (const [name, run] of cases) {
      await run(); // warm up
      const times: number[] = [];
      const started = performance.now();
      for (let i = 0; i < requests; i++) {
        const t = performance.now();
        await run();
        times.push(performance.now() - t);
      }
      const total = (performance.now() - started) / 1000;
      times.sort((a, b) => a - b);
      const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
      console.log(
        `${name}: ${requests} requests, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${times[times.length - 1].toFixed(1)} ms, ${(requests / total).toFixed(0)}/s`,
      );
    }
  } finally {
    await gateway.close();
    setup.cleanup();
    await node.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
