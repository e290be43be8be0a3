/** Small, realistic FHIR R4 resources for the demo and the CLI examples (synthetic patients only). */
export function fhirSamples() {
  const subject = (id: string) => ({ reference: `Patient/${id}` });
  const laboratory = [
    { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] },
  ];
  return {
    hba1c: (patient: string, percent: number) => ({
      resourceType: "Observation",
      status: "final",
      category: laboratory,
      code: {
        coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood" }],
      },
      subject: subject(patient),
      effectiveDateTime: "2026-11-02T09:30:00Z",
      valueQuantity: { value: percent, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
    }),
    diabetes: (patient: string) => ({
      resourceType: "Condition",
      clinicalStatus: {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }],
      },
      code: { coding: [{ system: "http://snomed.info/sct", code: "44054006", display: "Diabetes mellitus type 2" }] },
      subject: subject(patient),
      onsetDateTime: "2021-03-14",
    }),
    bloodPressure: (patient: string, systolic: number, diastolic: number) => ({
      resourceType: "Observation",
      status: "final",
      category: [
        { coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" }] },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "85354-9", display: "Blood pressure panel" }] },
      subject: subject(patient),
      effectiveDateTime: "2026-11-05T08:10:00Z",
      component: [
        {
          code: { coding: [{ system: "http://loinc.org", code: "8480-6" }] },
          valueQuantity: { value: systolic, unit: "mmHg" },
        },
        {
          code: { coding: [{ system: "http://loinc.org", code: "8462-4" }] },
          valueQuantity: { value: diastolic, unit: "mmHg" },
        },
      ],
    }),
    chestXray: (patient: string) => ({
      resourceType: "DiagnosticReport",
      status: "final",
      category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0074", code: "RAD" }] }],
      code: { coding: [{ system: "http://loinc.org", code: "36643-5", display: "XR Chest 2 Views" }] },
      subject: subject(patient),
      conclusion: "No acute cardiopulmonary process.",
    }),
    metformin: (patient: string) => ({
      resourceType: "MedicationStatement",
      status: "active",
      medicationCodeableConcept: {
        coding: [
          { system: "http://www.nlm.nih.gov/research/umls/rxnorm", code: "860975", display: "metformin 500 MG" },
        ],
      },
      subject: subject(patient),
      dosage: [{ text: "500 mg twice daily" }],
    }),
  };
}
