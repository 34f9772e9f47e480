import { schemaFor, schemaHistory } from "../schemas/registry.js";

/**
 * Which default-domain ops exist at which opset, and when each one's signature changed: the
 * converter's way to know that an op it has no adapter for did change, and to refuse it by name.
 */
export interface OpHistory {
  /** Whether the table has the op at all (an unknown op cannot be judged, so it is refused). */
  knows(op: string): boolean;
  /** Whether the op is an operator of that opset (it exists and is not deprecated). */
  existsAt(op: string, version: number): boolean;
  /** Whether the op had a schema by that opset, deprecated or not (a model may still use it). */
  definedAt(op: string, version: number): boolean;
  /** Whether the op existed before `version` and got a new schema (or was removed) at `version`. */
  changedAt(op: string, version: number): boolean;
}

/** The op-schema table in core (generated from ONNX's operator definitions). */
export const SCHEMA_HISTORY: OpHistory = {
  knows: (op) => schemaHistory("", op).length > 0,
  existsAt: (op, version) => schemaFor("", op, version) !== undefined,
  definedAt: (op, version) => schemaHistory("", op).some((s) => s.sinceVersion <= version),
  changedAt(op, version) {
    const history = schemaHistory("", op);
    return (
      history.some((s) => s.sinceVersion === version) &&
      history.some((s) => s.sinceVersion < version)
    );
  },
};

export function defaultOpHistory(): OpHistory {
  return SCHEMA_HISTORY;
}
