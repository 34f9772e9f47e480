/**
 * Which default-domain ops exist at which opset, and when each one's signature changed: the
 * converter's way to know that an op it has no adapter for did change, and to refuse it by name.
 */
export interface OpHistory {
  /** Whether the table has the op at all (an unknown op cannot be judged either way). */
  knows(op: string): boolean;
  /** Whether the op is an operator of that opset (it exists and is not deprecated). */
  existsAt(op: string, version: number): boolean;
  /** Whether the op existed before `version` and got a new schema at `version`. */
  changedAt(op: string, version: number): boolean;
}

/** Knows nothing: only the adapter table speaks. */
export const NO_HISTORY: OpHistory = {
  knows: () => false,
  existsAt: () => true,
  changedAt: () => false,
};

export function defaultOpHistory(): OpHistory {
  return NO_HISTORY;
}
