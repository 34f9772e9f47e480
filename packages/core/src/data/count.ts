import type { DataSet } from "../plugin/types.js";

/**
 * How many records a data set yields: its source's `count()` when it knows without decoding
 * (a file per record), else by reading them once. Progress totals and splits use it.
 */
export async function countRecords(set: DataSet): Promise<number> {
  if (set.count) return set.count();
  let count = 0;
  for await (const _ of set.records()) count++;
  return count;
}
