import { InvalidArgumentError, describeValue } from "../errors";

/** A FHIR R4 resource: a JSON object with a resourceType. */
export interface FhirResource {
  resourceType: string;
  [field: string]: unknown;
}

/**
 * Checks that `value` is a FHIR R4 resource as JSON: an object with a resourceType in FHIR's naming
 * (e.g. "Observation", "Bundle"). The SDK does not validate profiles; it refuses what is not FHIR at all.
 */
export function assertFhirResource(value: unknown): asserts value is FhirResource {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError("payload", "not a FHIR resource: expected a JSON object", {
      hint: 'Pass a FHIR R4 resource such as {"resourceType": "Observation", ...}, or bytes.',
    });
  }
  const resourceType = (value as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== "string" || !/^[A-Z][A-Za-z]{1,63}$/.test(resourceType)) {
    throw new InvalidArgumentError("payload", `not a FHIR resource: resourceType is ${describeValue(resourceType)}`, {
      hint: 'A FHIR resource names its type, e.g. "resourceType": "Observation".',
    });
  }
}

/** Parses FHIR JSON text, with a clear error for text that is not JSON or not a resource. */
export function parseFhirJson(text: string, source = "payload"): FhirResource {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidArgumentError(source, "not JSON", { hint: "Pass a FHIR R4 resource as JSON.", cause });
  }
  assertFhirResource(value);
  return value;
}
