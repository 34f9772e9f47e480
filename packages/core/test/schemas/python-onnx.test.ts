import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { OP_SCHEMAS, type OpSchema } from "@lathe/core";
import { describe, expect, it } from "vitest";

const python = "/usr/bin/python3";
const onnxInstalled = existsSync(python) && spawnSync(python, ["-c", "import onnx"]).status === 0;
const SKIPPED =
  "python3-onnx not installed (apt-get install python3-onnx): schema cross-check skipped";
if (!onnxInstalled) console.warn(SKIPPED);

/** Python onnx's own registered schemas, in the table's shape. */
const DUMP = `
import json
from onnx import defs, helper
OPTION = {0: "single", 1: "optional", 2: "variadic"}
def params(ps):
    out = []
    for p in ps:
        d = {"name": p.name, "type": p.typeStr, "option": OPTION[int(p.option)]}
        if int(p.option) == 2: d["homogeneous"] = p.isHomogeneous
        out.append(d)
    return out
def default(a):
    if not a.default_value.name: return None
    v = helper.get_attribute_value(a.default_value)
    if isinstance(v, bytes): return v.decode()
    if isinstance(v, list): return [x.decode() if isinstance(x, bytes) else x for x in v]
    return v
UNBOUNDED = 2147483647
print(json.dumps([{
    "domain": "" if s.domain == "ai.onnx" else s.domain, "name": s.name,
    "sinceVersion": s.since_version, "deprecated": s.deprecated,
    "inputs": params(s.inputs), "outputs": params(s.outputs),
    "minInputs": s.min_input, "maxInputs": None if s.max_input == UNBOUNDED else s.max_input,
    "minOutputs": s.min_output, "maxOutputs": None if s.max_output == UNBOUNDED else s.max_output,
    "attributes": sorted([{"name": a.name, "type": int(a.type), "required": a.required, "default": default(a)}
                          for a in s.attributes.values()], key=lambda a: a["name"]),
    "typeConstraints": [{"name": t.type_param_str, "types": sorted(t.allowed_type_strs)} for t in s.type_constraints],
} for s in defs.get_all_schemas_with_history()]))
`;

type PythonSchema = Omit<OpSchema, "deprecated" | "attributes"> & {
  deprecated: boolean;
  attributes: { name: string; type: number; required: boolean; default: unknown }[];
};

/**
 * Where the table (from onnx's current docs) and Python onnx 1.12 differ on purpose: onnx
 * corrected these schemas after 1.12 (GridSample-16's type names, Erf-13's constraint), and the
 * docs do not spell out the signature of an op version that only marks a deprecation.
 */
const KNOWN_DIFFERENCES: Record<string, string[]> = {
  "::GridSample-16": ["inputs", "outputs"],
  "::Erf-13": ["typeConstraints"],
  "::Upsample-10": ["inputs", "outputs", "counts", "attributes", "typeConstraints"],
  "::Scatter-11": ["inputs", "outputs", "counts", "attributes", "typeConstraints"],
};

describe.skipIf(!onnxInstalled)(
  onnxInstalled ? "the table against Python onnx 1.12" : SKIPPED,
  () => {
    it("matches every op version Python onnx registers (ai.onnx ≤ 17, ai.onnx.ml, training)", () => {
      const run = spawnSync(python, ["-c", DUMP], { encoding: "utf8", maxBuffer: 64 << 20 });
      expect(run.status, run.stderr).toBe(0);
      const reference = JSON.parse(run.stdout) as PythonSchema[];
      const ours = new Map(OP_SCHEMAS.map((s) => [`${s.domain}::${s.name}-${s.sinceVersion}`, s]));
      const differences: string[] = [];
      for (const py of reference) {
        const key = `${py.domain}::${py.name}-${py.sinceVersion}`;
        const mine = ours.get(key);
        if (!mine) {
          differences.push(`${key}: missing`);
          continue;
        }
        const expected = new Set(KNOWN_DIFFERENCES[key] ?? []);
        const compare = (what: string, a: unknown, b: unknown) => {
          if (!expected.has(what) && !sameValue(a, b))
            differences.push(
              `${key} ${what}: python ${JSON.stringify(a)}, table ${JSON.stringify(b)}`,
            );
        };
        compare("deprecated", py.deprecated, mine.deprecated === true);
        compare("inputs", py.inputs, mine.inputs);
        compare("outputs", py.outputs, mine.outputs);
        compare(
          "counts",
          [py.minInputs, py.maxInputs, py.minOutputs, py.maxOutputs],
          [mine.minInputs, mine.maxInputs, mine.minOutputs, mine.maxOutputs],
        );
        compare(
          "attributes",
          py.attributes,
          [...mine.attributes]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((a) => ({ ...a, default: a.default ?? null })),
        );
        compare(
          "typeConstraints",
          py.typeConstraints,
          mine.typeConstraints.map((t) => ({ name: t.name, types: [...t.types].sort() })),
        );
      }
      expect(reference.length).toBeGreaterThan(400);
      expect(differences).toEqual([]);
    });
  },
);

/** Deep equality where numbers agree to the 6 significant digits the docs print. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number")
    return Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(a));
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every((k) =>
        sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return a === b;
}
