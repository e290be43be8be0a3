/**
 * A study's human label: the small JSON a researcher publishes beside a request (the ledger holds only
 * the keccak256 of the study's identifier). The label is the researcher's own words, so it is checked
 * against the on-chain studyId and bounded, and a screen must render it as text only.
 */
import { studyIdOf } from "./request-rules";

/** The longest title kept; longer ones are cut, with an ellipsis. */
export const STUDY_TITLE_MAX_LENGTH = 120;

/** What a researcher publishes: `{ "study": "<the identifier hashed on chain>", "title": "<a label>" }`. */
export interface StudyMetadata {
  study: string;
  title: string;
}

export type StudyLabel =
  | { verified: true; studyId: string; study: string; title: string }
  | { verified: false; studyId: string; reason: string };

/**
 * Checks published metadata against `studyId` (bytes32 on chain): verified when keccak256 of its `study`
 * is that id. The title is cut to STUDY_TITLE_MAX_LENGTH characters, control characters removed.
 */
export function studyLabelOf(metadata: unknown, studyId: string): StudyLabel {
  const id = studyId.toLowerCase();
  if (!metadata || typeof metadata !== "object")
    return { verified: false, studyId: id, reason: "no metadata published" };
  const { study, title } = metadata as Partial<Record<keyof StudyMetadata, unknown>>;
  if (typeof study !== "string" || study.trim() === "")
    return { verified: false, studyId: id, reason: "the metadata names no study" };
  if (studyIdOf(study) !== id)
    return { verified: false, studyId: id, reason: "the metadata is for another study (its hash differs)" };
  const clean = (typeof title === "string" && title.trim() !== "" ? title : study)
    // eslint-disable-next-line no-control-regex -- control characters are what this strips
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .trim();
  const bounded =
    [...clean].length > STUDY_TITLE_MAX_LENGTH ? [...clean].slice(0, STUDY_TITLE_MAX_LENGTH - 1).join("") + "…" : clean;
  return { verified: true, studyId: id, study: study.trim(), title: bounded };
}
