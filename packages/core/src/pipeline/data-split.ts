/**
 * A data set cut into named parts (`split:` under a `data:` entry), each usable wherever a data
 * set's name is: calibrate on one part, evaluate on another, never on the same record.
 *
 * The records are numbered in the source's order (file sources sort their paths); a seeded
 * permutation of 0…N−1 is cut into the parts in the order they are written, and each part reads
 * its records in source order. The same seed, parts and records always give the same parts;
 * parts never overlap.
 */
import { countRecords } from "../data/count.js";
import { errors } from "../diagnostics.js";
import type { DataRecord, DataSet } from "../plugin/types.js";
import type { DataSpec, DataSplitSpec, Recipe } from "../recipe/types.js";
import { createPassRandom } from "./random.js";

/** What a data name refers to: a data set, or a part of one. */
export interface DataName {
  /** The `data:` entry that is read. */
  readonly entry: string;
  readonly spec: DataSpec;
  /** The part of the entry's split, for a part's name. */
  readonly part?: string;
}

/** Every name a step or metric may use for data: the `data:` entries and their split parts. */
export function dataNames(data: Recipe["data"]): Map<string, DataName> {
  const names = new Map<string, DataName>();
  for (const [entry, spec] of Object.entries(data)) {
    names.set(entry, { entry, spec });
    for (const part of Object.keys(spec.split?.parts ?? {}))
      if (!Object.hasOwn(data, part)) names.set(part, { entry, spec, part });
  }
  return names;
}

/** The part `part` of `set`, cut as `split` says; `where` locates the split in the recipe. */
export function splitPart(
  set: DataSet,
  split: DataSplitSpec,
  part: string,
  where: string,
): DataSet {
  let chosen: Promise<Set<number>> | undefined;
  const indices = () => {
    chosen ??= (async () => partIndices(await countRecords(set), split, where).get(part)!)();
    return chosen;
  };
  return {
    name: part,
    async count() {
      return (await indices()).size;
    },
    async *records(): AsyncIterable<DataRecord> {
      const keep = await indices();
      let index = 0;
      let left = keep.size;
      for await (const record of set.records()) {
        if (left === 0) break;
        if (keep.has(index++)) {
          left--;
          yield record;
        }
      }
    },
  };
}

/** Part name → the record indices it holds, from a seeded shuffle of 0…count−1. */
export function partIndices(
  count: number,
  split: DataSplitSpec,
  where: string,
): Map<string, Set<number>> {
  const order = Array.from({ length: count }, (_, i) => i);
  // A recipe built in code may leave the seed out; loading fills in the schema's default, 0.
  const random = createPassRandom(split.seed ?? 0, "data-split", "");
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const sizes = new Map<string, number>();
  let taken = 0;
  for (const [name, size] of Object.entries(split.parts)) {
    if (size === "rest") continue;
    const n = size < 1 ? Math.floor(size * count) : size;
    sizes.set(name, n);
    taken += n;
  }
  if (taken > count)
    throw errors.dataOptionsInvalid(
      where,
      `the split's parts ask for ${taken} records, but the data set has ${count}`,
      "ask for fewer records, or give fractions (0.25) instead of counts",
    );
  const out = new Map<string, Set<number>>();
  let at = 0;
  for (const [name, size] of Object.entries(split.parts)) {
    const n = size === "rest" ? count - taken : sizes.get(name)!;
    if (n === 0)
      throw errors.dataOptionsInvalid(
        where,
        `part "${name}" of the split would hold no record (the data set has ${count})`,
        "give the part a larger share, or add records to the data set",
      );
    out.set(name, new Set(order.slice(at, at + n)));
    at += n;
  }
  return out;
}
