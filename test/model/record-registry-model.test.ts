/**
 * Model-based test of RecordRegistry: random anchors, amendments, batch anchors and batch amendments by
 * random providers (and non-providers), with accreditation changes and time jumps, applied to the real
 * registry and ledger and to ./record-registry-model.ts. After every step:
 *
 *   - every operation reverted exactly when the model says, with the custom error it names, and emitted
 *     exactly the events it expects;
 *   - recordOf of every id in play, batchOf of every root and batchedRecordOf of every leaf for every
 *     batch provider equal the model;
 *   - from the chain alone (README.md ("Invariants") I6): a stored record never changes, except `superseded`
 *     going false → true; nothing stored is ever deleted; every amendment is version n + 1 of the same
 *     patient and class, and marks version n superseded.
 *
 *   FUZZ_RUNS=2000 npx hardhat test test/model/record-registry-model.test.ts    (default 60 runs)
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npx hardhat test test/model/record-registry-model.test.ts
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import fc from "fast-check";
import {
  type ContractTransactionResponse,
  type Interface,
  ZeroAddress,
  ZeroHash,
  hexlify,
  id,
  toUtf8Bytes,
} from "ethers";
import { network } from "hardhat";

import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { fuzzSeed } from "../helpers/seed";
import { type ViewCall, readAll } from "./chain-reader";
import { ConsentModel, Revert, Role } from "./consent-model";
import { type BatchedRecord, RecordRegistryModel, type RecordState } from "./record-registry-model";

const envInt = (name: string, fallback: number): number => {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : Number(value);
};
const RUNS = envInt("FUZZ_RUNS", 60);
const MAX_STEPS = envInt("FUZZ_STEPS", 20);
const PATH = process.env.FUZZ_PATH || undefined;
const GAS = 5_000_000;
/** With FUZZ_STATS=1: how each kind of operation fared (ok, or which custom error), printed at the end. */
const STATS = process.env.FUZZ_STATS === "1";
const outcomes = new Map<string, number>();
let current = "";
const count = (outcome: string) =>
  STATS && outcomes.set(`${current}: ${outcome}`, (outcomes.get(`${current}: ${outcome}`) ?? 0) + 1);

const CAST = ["admin", "hospital", "lab", "patient", "otherPatient", "stranger"] as const;
type Name = (typeof CAST)[number];

/** Content hashes in play: a small pool, so that collisions (re-anchoring, squatting) happen. */
const H = Array.from({ length: 8 }, (_, i) => id(`envelope H${i}`));
const K = Array.from({ length: 8 }, (_, i) => id(`batched envelope K${i}`));
const N = Array.from({ length: 6 }, (_, i) => id(`amended envelope N${i}`));
const IDS = [...H, ...K, ...N];
const LEAF = ["bytes32", "address", "uint8"];

type Leaf = [string, "patient" | "otherPatient", number];
/** Three batches; K0 sits in two of them, H1, H5 and H6 are also anchorable on their own (squatting). */
const TREES: Leaf[][] = [
  [
    [K[0], "patient", 0],
    [K[1], "patient", 3],
    [H[1], "patient", 4],
    [K[2], "otherPatient", 1],
  ],
  [
    [K[3], "otherPatient", 2],
    [K[4], "patient", 5],
    [H[5], "otherPatient", 0],
    [K[0], "patient", 0],
  ],
  [
    [K[5], "patient", 7],
    [K[6], "otherPatient", 9],
    [K[7], "patient", 14],
    [H[6], "patient", 2],
  ],
];

type Op =
  | { t: "anchor"; caller: Name; patient: Name | "zero"; hash: number; dataClass: number }
  | { t: "amend"; caller: Name | "providerOf"; previous: number; hash: number }
  | { t: "anchorBatch"; caller: Name; tree: number; count: "exact" | 0 | 1000; zeroRoot: boolean }
  | {
      t: "amendBatched";
      caller: Name | "providerOf";
      tree: number;
      leaf: number;
      proof: "valid" | "tamperedLeaf" | "otherTree" | "empty";
      hash: number;
    }
  | { t: "accredit"; party: Name; roles: number; until: number | "never" }
  | { t: "suspend"; party: Name }
  | { t: "reinstate"; party: Name }
  | { t: "time"; seconds: number };

const callerArb = fc.oneof(
  { arbitrary: fc.constantFrom<Name>("hospital", "lab"), weight: 8 },
  { arbitrary: fc.constantFrom<Name>(...CAST), weight: 2 },
);
/** Who amends: mostly the provider that anchored what is amended ("providerOf"), sometimes anyone. */
const amenderArb = fc.oneof(
  { arbitrary: fc.constant<Name | "providerOf">("providerOf"), weight: 6 },
  { arbitrary: callerArb as fc.Arbitrary<Name | "providerOf">, weight: 2 },
);
/** Index into IDS, or -1 for the zero hash. */
const hashArb = fc.oneof({ arbitrary: fc.nat(IDS.length - 1), weight: 20 }, { arbitrary: fc.constant(-1), weight: 1 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("anchor" as const),
      caller: callerArb,
      patient: fc.oneof(
        { arbitrary: fc.constantFrom<Name | "zero">("patient", "otherPatient"), weight: 10 },
        { arbitrary: fc.constant<Name | "zero">("zero"), weight: 1 },
      ),
      hash: hashArb,
      dataClass: fc.oneof({ arbitrary: fc.nat(14), weight: 10 }, { arbitrary: fc.constantFrom(15, 255), weight: 1 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("amend" as const),
      caller: amenderArb,
      previous: fc.nat(IDS.length - 1),
      hash: hashArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("anchorBatch" as const),
      caller: callerArb,
      tree: fc.nat(TREES.length - 1),
      count: fc.oneof(
        { arbitrary: fc.constant<"exact">("exact"), weight: 8 },
        { arbitrary: fc.constantFrom<0 | 1000>(0, 1000), weight: 1 },
      ),
      zeroRoot: fc.oneof({ arbitrary: fc.constant(false), weight: 12 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("amendBatched" as const),
      caller: amenderArb,
      tree: fc.nat(TREES.length - 1),
      leaf: fc.nat(3),
      proof: fc.oneof(
        { arbitrary: fc.constant<"valid">("valid"), weight: 8 },
        {
          arbitrary: fc.constantFrom<"tamperedLeaf" | "otherTree" | "empty">("tamperedLeaf", "otherTree", "empty"),
          weight: 2,
        },
      ),
      hash: hashArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("accredit" as const),
      party: fc.constantFrom<Name>("stranger", "lab", "hospital"),
      roles: fc.constantFrom(Role.PROVIDER, Role.RESEARCHER, Role.PROVIDER | Role.CUSTODIAN),
      until: fc.oneof(
        { arbitrary: fc.constant<"never">("never"), weight: 1 },
        { arbitrary: fc.integer({ min: 1, max: 3 * DAY }), weight: 1 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("suspend" as const),
      party: fc.constantFrom<Name>("lab", "hospital", "stranger"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("reinstate" as const),
      party: fc.constantFrom<Name>("lab", "hospital", "stranger"),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("time" as const),
      seconds: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 4 * DAY })),
    }),
  },
);

const name = (hash: number) =>
  hash < 0 ? "0x0" : hash < 8 ? `H${hash}` : hash < 16 ? `K${hash - 8}` : `N${hash - 16}`;
function describeOp(op: Op): string {
  switch (op.t) {
    case "anchor":
      return `${op.caller} anchors ${name(op.hash)} for ${op.patient} class ${op.dataClass}`;
    case "amend":
      return `${op.caller} amends record #${op.previous} with ${name(op.hash)}`;
    case "anchorBatch":
      return `${op.caller} anchors batch ${op.zeroRoot ? "0x0" : op.tree} count ${op.count}`;
    case "amendBatched":
      return `${op.caller} amends batch #${op.tree} leaf ${op.leaf} (${op.proof} proof) with ${name(op.hash)}`;
    case "accredit":
      return `admin accredits ${op.party} roles ${op.roles} until ${op.until === "never" ? "never" : `now+${op.until}`}`;
    case "suspend":
    case "reinstate":
      return `admin ${op.t}s ${op.party}`;
    case "time":
      return `time passes ${op.seconds}s`;
  }
}
const readable = (arb: fc.Arbitrary<Op>) =>
  arb.map((op) => Object.defineProperty(op, fc.toStringMethod, { value: () => describeOp(op), enumerable: false }));

class Mismatch extends Error {
  override name = "ModelMismatch";
}

function norm(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, norm);
  if (typeof value === "bigint" || typeof value === "number") return BigInt(value).toString();
  if (typeof value === "string") return value.toLowerCase();
  return value;
}
const same = (a: unknown, b: unknown) => JSON.stringify(norm(a)) === JSON.stringify(norm(b));
const show = (v: unknown) => JSON.stringify(norm(v));
const recordTuple = (r: RecordState) => [r.patient, r.providerIndex, r.version, r.dataClass, r.superseded];

type Fixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

interface Run {
  f: Fixture;
  ledger: ConsentModel;
  registry: RecordRegistryModel;
  latest: number;
  address: Record<Name | "zero", string>;
  registryAddress: string;
  ledgerAddress: string;
  trees: StandardMerkleTree<(string | number)[]>[];
  /** Every record as last read from the chain: what it may never lose. */
  seen: Map<string, unknown[]>;
}

function errorOf(run: Run, error: unknown): { name: string; args: unknown[] } {
  const data = (error as { data?: unknown }).data;
  if (typeof data !== "string") throw new Mismatch(`the transaction failed without revert data: ${String(error)}`);
  const parsed = run.f.records.interface.parseError(data) ?? run.f.ledger.interface.parseError(data);
  if (parsed === null) throw new Mismatch(`undecodable revert data ${data}`);
  return { name: parsed.name, args: Array.from(parsed.args) };
}

/** Runs a transaction at the next second and holds it to what the model says (revert, error, events). */
async function expectSame(
  run: Run,
  label: string,
  apply: (registry: RecordRegistryModel, ledger: ConsentModel, now: number) => void,
  send: () => Promise<ContractTransactionResponse>,
  pointer?: string,
): Promise<void> {
  const now = run.latest + 1;
  const ledger = run.ledger.clone();
  const registry = run.registry.clone((caller) => ledger.requireAccredited(caller, Role.PROVIDER, now).index);
  let expected: Revert | undefined;
  try {
    apply(registry, ledger, now);
  } catch (error) {
    if (!(error instanceof Revert)) throw error;
    expected = error;
  }
  await network.provider.send("evm_setNextBlockTimestamp", [now]);
  run.latest = now;
  let receipt;
  try {
    receipt = await (await send()).wait();
  } catch (error) {
    if (error instanceof Mismatch) throw error;
    const actual = errorOf(run, error);
    count(actual.name);
    if (expected === undefined)
      throw new Mismatch(`${label}: reverted with ${actual.name}${show(actual.args)}, the model says it succeeds`);
    if (actual.name !== expected.errorName || !same(actual.args, expected.args)) {
      throw new Mismatch(
        `${label}: reverted with ${actual.name}${show(actual.args)}, the model says ${expected.message}`,
      );
    }
    return;
  }
  if (expected !== undefined)
    throw new Mismatch(`${label}: succeeded, the model says it must revert with ${expected.message}`);
  count("ok");
  const got = receipt!.logs
    .filter((log) => log.address === run.registryAddress)
    .map((log) => {
      const parsed = run.f.records.interface.parseLog(log)!;
      const args = Array.from(parsed.args);
      if (parsed.name === "BatchedRecordAmended") return [parsed.name, args];
      // The pointer / manifest (last argument) is calldata passed through: checked on its own.
      if (args[args.length - 1] !== pointer)
        throw new Mismatch(`${label}: ${parsed.name} carries ${String(args[args.length - 1])}, sent ${pointer}`);
      return [parsed.name, args.slice(0, -1)];
    });
  const want = registry.events.map((e) => [e.name, e.args]);
  if (!same(got, want)) throw new Mismatch(`${label}: emitted ${show(got)}, the model expects ${show(want)}`);
  run.ledger = ledger;
  run.registry = registry;
  registry.events = [];
}

/** The cast member accredited with `index` (the ledger's partyAt), or the hospital when none is. */
function providerOf(run: Run, index: number): Name {
  const holder = CAST.find((name) => run.ledger.partyOf(run.address[name]).index === index && index !== 0);
  return holder ?? "hospital";
}

async function step(run: Run, op: Op, index: number): Promise<void> {
  const label = describeOp(op);
  const a = run.address;
  const records = (caller: Name) => run.f.records.connect(run.f[caller]);
  const gas = { gasLimit: GAS };
  const pointer = hexlify(toUtf8Bytes(`ipfs://step-${index}`));
  const hash = (i: number) => (i < 0 ? ZeroHash : IDS[i]);
  switch (op.t) {
    case "anchor":
      return expectSame(
        run,
        label,
        (r) => r.anchorRecord(a[op.caller], a[op.patient], hash(op.hash), op.dataClass),
        () => records(op.caller).anchorRecord(a[op.patient], hash(op.hash), op.dataClass, pointer, gas),
        pointer,
      );
    case "amend": {
      // Mostly the latest version of a record in play (what a provider amends), sometimes any id.
      const live = IDS.filter(
        (id) => run.registry.records.has(id.toLowerCase()) && !run.registry.recordOf(id).superseded,
      );
      const previous = live.length > 0 && op.previous % 4 !== 3 ? live[op.previous % live.length] : IDS[op.previous];
      const caller =
        op.caller === "providerOf" ? providerOf(run, run.registry.recordOf(previous).providerIndex) : op.caller;
      return expectSame(
        run,
        label,
        (r) => r.amendRecord(a[caller], previous, hash(op.hash)),
        () => records(caller).amendRecord(previous, hash(op.hash), pointer, gas),
        pointer,
      );
    }
    case "anchorBatch": {
      const root = op.zeroRoot ? ZeroHash : run.trees[op.tree].root;
      const count = op.count === "exact" ? TREES[op.tree].length : op.count;
      return expectSame(
        run,
        label,
        (r, _l, now) => r.anchorBatch(a[op.caller], root, count, now),
        () => records(op.caller).anchorBatch(root, count, pointer, gas),
        pointer,
      );
    }
    case "amendBatched": {
      // Mostly a batch that is anchored, sometimes any.
      const anchored = run.trees
        .map((_, i) => i)
        .filter((i) => run.registry.batches.has(run.trees[i].root.toLowerCase()));
      const treeIndex = anchored.length > 0 && op.leaf !== 3 ? anchored[op.tree % anchored.length] : op.tree;
      const tree = run.trees[treeIndex];
      const caller =
        op.caller === "providerOf" ? providerOf(run, run.registry.batchOf(tree.root).providerIndex) : op.caller;
      const [contentHash, who, dataClass] = TREES[treeIndex][op.leaf];
      let previous: BatchedRecord = { contentHash, patient: a[who], dataClass };
      let proof = tree.getProof(op.leaf);
      if (op.proof === "tamperedLeaf") previous = { ...previous, dataClass: (dataClass + 1) % 15 };
      if (op.proof === "otherTree") proof = run.trees[(treeIndex + 1) % TREES.length].getProof(op.leaf);
      if (op.proof === "empty") proof = [];
      // Whether the proof places the record in the batch: decided by the Merkle library, not the contract.
      const valid = StandardMerkleTree.verify(
        tree.root,
        LEAF,
        [previous.contentHash, previous.patient, previous.dataClass],
        proof,
      );
      return expectSame(
        run,
        label,
        (r) => r.amendBatchedRecord(a[caller], tree.root, previous, valid, hash(op.hash)),
        () => records(caller).amendBatchedRecord(tree.root, previous, proof, hash(op.hash), pointer, gas),
        pointer,
      );
    }
    case "accredit": {
      const until = op.until === "never" ? 0 : run.latest + 1 + op.until;
      return expectSame(
        run,
        label,
        (_r, l, now) => l.accredit(a.admin, a[op.party], op.roles, false, until, now),
        () => run.f.ledger.connect(run.f.admin).accredit(a[op.party], op.roles, false, until, gas),
      );
    }
    case "suspend":
      return expectSame(
        run,
        label,
        (_r, l) => l.suspend(a.admin, a[op.party], 0),
        () => run.f.ledger.connect(run.f.admin).suspend(a[op.party], 0, gas),
      );
    case "reinstate":
      return expectSame(
        run,
        label,
        (_r, l) => l.reinstate(a.admin, a[op.party]),
        () => run.f.ledger.connect(run.f.admin).reinstate(a[op.party], gas),
      );
    case "time":
      run.latest += op.seconds;
      await network.provider.send("evm_mine", [run.latest]);
      return;
  }
}

async function check(run: Run, where: string): Promise<void> {
  const iface = run.f.records.interface as unknown as Interface;
  const calls: ViewCall[] = [
    ...IDS.map((recordId) => ({ target: run.registryAddress, iface, fn: "recordOf", args: [recordId] })),
    ...run.trees.map((tree) => ({ target: run.registryAddress, iface, fn: "batchOf", args: [tree.root] })),
  ];
  // Batched records live apart from recordOf, keyed by the batch's provider (#12, point 7).
  const leafHashes = [...new Set(TREES.flat().map(([h]) => h))];
  const batchProviders = [...new Set([...run.registry.batches.values()].map((b) => b.providerIndex))];
  const batchedKeys = batchProviders.flatMap((p) => leafHashes.map((h) => [p, h] as const));
  calls.push(
    ...batchedKeys.map((args) => ({ target: run.registryAddress, iface, fn: "batchedRecordOf", args: [...args] })),
  );
  const reading = await readAll(calls);
  const values = reading.results.map((r, i) => {
    if (!r.ok) throw new Mismatch(`${where}: ${calls[i].fn} reverted`);
    return Array.from(r.values[0] as unknown[]);
  });
  for (const [i, recordId] of IDS.entries()) {
    const got = values[i];
    const want = recordTuple(run.registry.recordOf(recordId));
    if (!same(got, want))
      throw new Mismatch(`${where}: recordOf(${name(i)}) is ${show(got)}, the model says ${show(want)}`);
    // I6, from the chain alone: once written, a record keeps everything; superseded only goes false → true.
    const before = run.seen.get(recordId);
    if (before !== undefined) {
      const kept = same(got.slice(0, 4), before.slice(0, 4)) && !(before[4] === true && got[4] === false);
      if (!kept)
        throw new Mismatch(`${where}: I6 broken, record ${name(i)} was ${show(before)} and is now ${show(got)}`);
    }
    if (BigInt(got[2] as bigint) !== 0n) run.seen.set(recordId, got);
  }
  for (const [j, tree] of run.trees.entries()) {
    const got = values[IDS.length + j];
    const b = run.registry.batchOf(tree.root);
    if (!same(got, [b.providerIndex, b.recordCount, b.anchoredAt]))
      throw new Mismatch(`${where}: batchOf(${j}) is ${show(got)}`);
  }
  for (const [k, [p, h]] of batchedKeys.entries()) {
    const got = values[IDS.length + run.trees.length + k];
    const want = recordTuple(run.registry.batchedRecordOf(p, h));
    if (!same(got, want))
      throw new Mismatch(
        `${where}: batchedRecordOf(${p}, ${name(IDS.indexOf(h))}) is ${show(got)}, the model says ${show(want)}`,
      );
  }
}

/** I6 for the version chains, from events: every amendment is version n + 1 of the same patient and class. */
async function checkChains(run: Run, where: string): Promise<void> {
  const events = await run.f.records.queryFilter(run.f.records.filters.RecordAnchored());
  const iface = run.f.records.interface as unknown as Interface;
  const amended = events.filter((e) => e.args.supersedes !== ZeroHash);
  if (amended.length === 0) return;
  // A batched predecessor is the batch provider's (batchedRecordOf), named by BatchedRecordAmended.
  const fromBatch = new Set(
    (await run.f.records.queryFilter(run.f.records.filters.BatchedRecordAmended())).map(
      (e) => e.args.recordId as string,
    ),
  );
  const ids = [...new Set(amended.map((e) => e.args.recordId as string))];
  const reading = await readAll(
    ids.map((recordId) => ({ target: run.registryAddress, iface, fn: "recordOf", args: [recordId] })),
  );
  const record = new Map(
    ids.map((recordId, i) => [recordId, (reading.results[i] as { values: unknown[] }).values[0] as unknown[]]),
  );
  const prevCalls: ViewCall[] = amended.map((e) =>
    fromBatch.has(e.args.recordId)
      ? {
          target: run.registryAddress,
          iface,
          fn: "batchedRecordOf",
          args: [record.get(e.args.recordId)![1], e.args.supersedes],
        }
      : { target: run.registryAddress, iface, fn: "recordOf", args: [e.args.supersedes] },
  );
  const prevReading = await readAll(prevCalls);
  for (const [i, e] of amended.entries()) {
    const next = record.get(e.args.recordId)!;
    const prev = (prevReading.results[i] as { values: unknown[] }).values[0] as unknown[];
    const ok =
      BigInt(next[2] as bigint) === BigInt(prev[2] as bigint) + 1n &&
      next[0] === prev[0] &&
      BigInt(next[1] as bigint) === BigInt(prev[1] as bigint) &&
      BigInt(next[3] as bigint) === BigInt(prev[3] as bigint) &&
      prev[4] === true;
    if (!ok)
      throw new Mismatch(
        `${where}: I6 broken, ${e.args.recordId} (${show(next)}) does not continue ${e.args.supersedes} (${show(prev)})`,
      );
  }
}

async function runSequence(ops: readonly Op[]): Promise<void> {
  const f = await loadFixture(deployLedgerFixture);
  const now = await time.latest();
  const ledger = new ConsentModel({
    administrator: f.admin.address,
    requestTtl: 1,
    maxRequestDuration: 1,
    maxEmergencyDuration: 1,
  });
  ledger.accredit(f.admin.address, f.hospital.address, Role.PROVIDER | Role.CUSTODIAN, false, 0, now);
  ledger.accredit(f.admin.address, f.lab.address, Role.PROVIDER, false, 0, now);
  ledger.accredit(f.admin.address, f.university.address, Role.RESEARCHER, true, 0, now);
  ledger.accredit(f.admin.address, f.pharma.address, Role.RESEARCHER, false, 0, now);
  const address = { ...Object.fromEntries(CAST.map((n) => [n, f[n].address])), zero: ZeroAddress } as Record<
    Name | "zero",
    string
  >;
  const run: Run = {
    f,
    ledger,
    registry: new RecordRegistryModel(() => 0),
    latest: now,
    address,
    registryAddress: await f.records.getAddress(),
    ledgerAddress: await f.ledger.getAddress(),
    trees: TREES.map((leaves) =>
      StandardMerkleTree.of(
        leaves.map(([h, who, c]) => [h, address[who], c]),
        LEAF,
      ),
    ),
    seen: new Map(),
  };
  const history: string[] = [];
  for (const [i, op] of ops.entries()) {
    try {
      current = op.t;
      await step(run, op, i);
      await check(run, `step ${i + 1} (${describeOp(op)})`);
    } catch (error) {
      if (error instanceof Mismatch) error.message += `\n  after: ${history.join("\n         ") || "(nothing)"}`;
      throw error;
    }
    history.push(describeOp(op));
  }
  await checkChains(run, `after all ${ops.length} steps`);
}

describe("RecordRegistry, model-based", function () {
  // The runs move the clock by up to years; leave the network at the fixture's state and time, so that
  // later test files that sign with wall-clock deadlines are not handed a chain living in the future.
  after(async function () {
    await loadFixture(deployLedgerFixture);
  });

  it(`agrees with the reference model over ${RUNS} random sequences of up to ${MAX_STEPS} operations`, async function () {
    this.timeout(0);
    const property = fc.asyncProperty(
      fc.array(readable(opArb), { minLength: 1, maxLength: MAX_STEPS, size: "max" }),
      runSequence,
    );
    const details = await fc.check(property, { numRuns: RUNS, seed: fuzzSeed(), path: PATH });
    if (STATS) for (const [key, n] of [...outcomes].sort()) console.log(`      ${key.padEnd(44)} ${n}`);
    if (details.failed) {
      const cause = details.errorInstance;
      const message =
        `${fc.defaultReportMessage(details)}\n\nFailure: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}` +
        `\n\nReplay this case with:\n  FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} ` +
        `npx hardhat test test/model/record-registry-model.test.ts`;
      // The message is the whole report: no second copy as a stack trace.
      throw Object.assign(new Error(message), { stack: message });
    }
  });

  // Found by the model-based test, fixed in 83c65d3: amendBatchedRecord stores a batched leaf without the checks anchorRecord
  // makes, so a provider can put a record with an unknown data class (or the zero patient) on chain by
  // anchoring a batch whose leaf says so and amending it. IRecordRegistry documents `dataClass` as "one
  // {DataClasses} code" and anchorRecord refuses both. Proposed fix, in amendBatchedRecord before _amend:
  //   if (previous.patient == address(0)) revert InvalidPatient(previous.patient);
  //   if (!DataClasses.isKnown(previous.dataClass)) revert UnknownRecordDataClass(previous.dataClass);
  it("refuses to store a batched record with an unknown data class or no patient, as anchorRecord does", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const leaves: [string, string, number][] = [
      [id("batched: unknown class"), f.patient.address, 200],
      [id("batched: no patient"), ZeroAddress, 0],
    ];
    const tree = StandardMerkleTree.of(leaves, LEAF);
    await f.records.connect(f.hospital).anchorBatch(tree.root, leaves.length, "0x");

    const [h0, p0, c0] = leaves[0];
    await expect(
      f.records
        .connect(f.hospital)
        .amendBatchedRecord(
          tree.root,
          { contentHash: h0, patient: p0, dataClass: c0 },
          tree.getProof(0),
          id("v2 a"),
          "0x",
        ),
    )
      .to.be.revertedWithCustomError(f.records, "UnknownRecordDataClass")
      .withArgs(200);
    const [h1, p1, c1] = leaves[1];
    await expect(
      f.records
        .connect(f.hospital)
        .amendBatchedRecord(
          tree.root,
          { contentHash: h1, patient: p1, dataClass: c1 },
          tree.getProof(1),
          id("v2 b"),
          "0x",
        ),
    )
      .to.be.revertedWithCustomError(f.records, "InvalidPatient")
      .withArgs(ZeroAddress);
  });
});
