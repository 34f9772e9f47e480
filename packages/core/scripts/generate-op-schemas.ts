/**
 * Generates `src/schemas/generated/op-schemas.ts`, the op-schema table, from the operator
 * documentation that ONNX and ONNX Runtime generate from their registered schemas:
 *
 *   onnx/onnx            docs/Changelog.md, docs/Changelog-ml.md   (every version of every op of
 *                        ai.onnx, ai.onnx.ml, ai.onnx.preview, ai.onnx.preview.training)
 *   microsoft/onnxruntime docs/ContribOperators.md                  (com.microsoft, latest only)
 *
 * Usage (from packages/core):
 *   pnpm generate:op-schemas --onnx-docs <onnx checkout>/docs --contrib-docs <ort checkout>/docs/ContribOperators.md \
 *     [--onnx-source "onnx/onnx@<commit>"] [--contrib-source "microsoft/onnxruntime@<commit>"]
 *
 * The markdown is what both projects publish; it carries since-versions, formal inputs/outputs
 * with their options, attributes with type/required/default, and type constraints. A test
 * (test/schemas/python-onnx.test.ts) checks the result against Python onnx's own schemas.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AttributeType } from "../src/ir/attribute.js";
import type {
  AttributeDefault,
  AttributeSchema,
  FormalParameter,
  OpSchema,
  TypeConstraint,
} from "../src/schemas/types.js";

const { values: args } = parseArgs({
  options: {
    "onnx-docs": { type: "string" },
    "contrib-docs": { type: "string" },
    "onnx-source": { type: "string", default: "onnx/onnx docs" },
    "contrib-source": { type: "string", default: "microsoft/onnxruntime docs" },
    out: {
      type: "string",
      default: new URL("../src/schemas/generated/op-schemas.ts", import.meta.url).pathname,
    },
  },
});
if (!args["onnx-docs"] || !args["contrib-docs"]) {
  console.error(
    "usage: generate-op-schemas --onnx-docs <onnx/docs folder> --contrib-docs <ContribOperators.md>",
  );
  process.exit(2);
}

const DOMAIN_OF_HEADING: Record<string, string> = {
  "the default ONNX operator set": "",
};

/** Splits a document into operator sections and parses each. */
function parseDocument(text: string, file: string): OpSchema[] {
  const out: OpSchema[] = [];
  let domain: string | undefined;
  let section: string[] | undefined;
  let heading = "";
  const flush = () => {
    if (section && domain !== undefined) out.push(parseOperator(heading, section, domain, file));
    section = undefined;
  };
  for (const line of text.split("\n")) {
    const setHeading = /^## (?:Version \d+ of (.+)|(com\.microsoft|com\.microsoft\.\w+))$/.exec(
      line,
    );
    if (setHeading) {
      flush();
      const name = setHeading[1] ?? setHeading[2]!;
      domain = DOMAIN_OF_HEADING[name] ?? /^the '([^']+)' operator set$/.exec(name)?.[1] ?? name;
      continue;
    }
    if (line.startsWith("### ")) {
      flush();
      heading = line;
      section = [];
      continue;
    }
    section?.push(line);
  }
  flush();
  return out;
}

function parseOperator(heading: string, body: string[], domain: string, file: string): OpSchema {
  const title = /\*\*([^*]+)\*\*/.exec(heading)?.[1];
  if (!title) throw new Error(`${file}: cannot read the operator heading ${heading}`);
  // `Abs-1`, `ai.onnx.ml.Binarizer-1`, `com.microsoft.Attention`
  const unprefixed =
    domain && title.startsWith(`${domain}.`) ? title.slice(domain.length + 1) : title;
  const name = unprefixed.replace(/-\d+$/, "");
  const where = `${file}: ${title}`;

  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  const counts = new Map<string, [number, number | null]>();
  for (const line of body) {
    const sub = /^#### (\w[\w ]*?)(?: \((\d+) - (\d+|&#8734;)\))?$/.exec(line);
    if (sub) {
      current = [];
      sections.set(sub[1]!, current);
      if (sub[2] !== undefined)
        counts.set(sub[1]!, [Number(sub[2]), sub[3] === "&#8734;" ? null : Number(sub[3])]);
      continue;
    }
    current?.push(line);
  }

  const versionText = (sections.get("Version") ?? []).join(" ");
  const since = /(?:available|deprecated) since version (\d+)/.exec(versionText);
  const experimental = /No versioning maintained for experimental ops/.test(versionText);
  if (!since && !experimental) throw new Error(`${where}: no since-version in "${versionText}"`);
  const deprecated = /has been deprecated since/.test(versionText);

  const inputs = (sections.get("Inputs") ?? []).flatMap((l) => parameter(l, where));
  const outputs = (sections.get("Outputs") ?? []).flatMap((l) => parameter(l, where));
  const [minInputs, maxInputs] = counts.get("Inputs") ?? [inputs.length, inputs.length];
  const [minOutputs, maxOutputs] = counts.get("Outputs") ?? [outputs.length, outputs.length];
  return {
    domain,
    name,
    sinceVersion: since ? Number(since[1]) : 1,
    ...(deprecated ? { deprecated: true } : {}),
    inputs,
    outputs,
    minInputs,
    maxInputs,
    minOutputs,
    maxOutputs,
    attributes: (sections.get("Attributes") ?? []).flatMap((l) => attribute(l, where)),
    typeConstraints: (sections.get("Type Constraints") ?? []).flatMap((l) =>
      typeConstraint(l, where),
    ),
  };
}

/** `<dt><tt>B</tt> (optional, non-differentiable) : T</dt>` */
function parameter(line: string, where: string): FormalParameter[] {
  if (!line.startsWith("<dt>")) return [];
  const m = /^<dt><tt>([^<]*)<\/tt>(?: \(([^)]*)\))? : (.+)<\/dt>$/.exec(line);
  if (!m) throw new Error(`${where}: cannot read the parameter line ${line}`);
  const tags = (m[2] ?? "").split(",").map((t) => t.trim());
  const option = tags.includes("variadic")
    ? "variadic"
    : tags.includes("optional")
      ? "optional"
      : "single";
  return [
    {
      name: m[1]!,
      type: m[3]!.trim(),
      option,
      ...(option === "variadic" ? { homogeneous: !tags.includes("heterogeneous") } : {}),
    },
  ];
}

const ATTRIBUTE_TYPES: Record<string, AttributeType> = {
  float: AttributeType.FLOAT,
  int: AttributeType.INT,
  string: AttributeType.STRING,
  tensor: AttributeType.TENSOR,
  graph: AttributeType.GRAPH,
  sparse_tensor: AttributeType.SPARSE_TENSOR,
  type_proto: AttributeType.TYPE_PROTO,
  "list of floats": AttributeType.FLOATS,
  "list of ints": AttributeType.INTS,
  "list of strings": AttributeType.STRINGS,
  "list of tensors": AttributeType.TENSORS,
  "list of graphs": AttributeType.GRAPHS,
  "list of sparse_tensors": AttributeType.SPARSE_TENSORS,
  "list of type_protos": AttributeType.TYPE_PROTOS,
};

/** `<dt><tt>axis</tt> : int (default is 1)</dt>`, `… : list of ints (required)</dt>` */
function attribute(line: string, where: string): AttributeSchema[] {
  if (!line.startsWith("<dt>")) return [];
  const m = /^<dt><tt>([^<]*)<\/tt> : ([a-z_ ]+?)(?: \((required|default is (.*))\))?<\/dt>$/.exec(
    line,
  );
  if (!m) throw new Error(`${where}: cannot read the attribute line ${line}`);
  const type = ATTRIBUTE_TYPES[m[2]!];
  if (type === undefined) throw new Error(`${where}: unknown attribute type "${m[2]}"`);
  const schema: AttributeSchema = { name: m[1]!, type, required: m[3] === "required" };
  if (m[4] === undefined) return [schema];
  return [{ ...schema, default: parseDefault(m[4], type, where) }];
}

function parseDefault(text: string, type: AttributeType, where: string): AttributeDefault {
  const unwrapped = text.replace(/^\((.*)\)$/, "$1");
  const number = (s: string) => {
    const n = Number(s);
    if (Number.isNaN(n)) throw new Error(`${where}: default "${text}" is not a number`);
    return n;
  };
  const list = () =>
    unwrapped
      .replace(/^\[(.*)\]$/, "$1")
      .split(",")
      .map((s) => s.trim().replace(/^'(.*)'$/, "$1"))
      .filter((s) => s !== "");
  switch (type) {
    case AttributeType.INT:
    case AttributeType.FLOAT:
      return number(unwrapped);
    case AttributeType.STRING:
      return unwrapped;
    case AttributeType.INTS:
    case AttributeType.FLOATS:
      return list().map(number);
    case AttributeType.STRINGS:
      return list();
    default:
      throw new Error(`${where}: cannot read a default for attribute type ${type}`);
  }
}

/** `<dt><tt>T</tt> : tensor(float16), tensor(float)</dt>` */
function typeConstraint(line: string, where: string): TypeConstraint[] {
  if (!line.startsWith("<dt>")) return [];
  const m = /^<dt><tt>([^<]*)<\/tt> : (.*)<\/dt>$/.exec(line);
  if (!m) throw new Error(`${where}: cannot read the type constraint ${line}`);
  return [{ name: m[1]!, types: splitTypes(m[2]!) }];
}

/** Splits `tensor(float), map(string, tensor(int64))` at top-level commas. */
function splitTypes(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== "") out.push(last);
  return out;
}

function main(onnxDocs: string, contribDocs: string, out: string): void {
  const schemas: OpSchema[] = [
    ...parseDocument(readFileSync(join(onnxDocs, "Changelog.md"), "utf8"), "Changelog.md"),
    ...parseDocument(readFileSync(join(onnxDocs, "Changelog-ml.md"), "utf8"), "Changelog-ml.md"),
    ...parseDocument(readFileSync(contribDocs, "utf8"), "ContribOperators.md"),
  ];
  schemas.sort(
    (a, b) =>
      a.domain.localeCompare(b.domain) ||
      a.name.localeCompare(b.name) ||
      a.sinceVersion - b.sinceVersion,
  );
  const seen = new Set<string>();
  for (const s of schemas) {
    const key = `${s.domain}::${s.name}-${s.sinceVersion}`;
    if (seen.has(key)) throw new Error(`${key} is documented twice`);
    seen.add(key);
  }

  const lines = schemas.map((s) => `  ${JSON.stringify(s)},`);
  writeFileSync(
    out,
    [
      "// Generated by packages/core/scripts/generate-op-schemas.ts: do not edit.",
      `// Sources: ${args["onnx-source"]} (docs/Changelog.md, docs/Changelog-ml.md);`,
      `//          ${args["contrib-source"]} (docs/ContribOperators.md).`,
      "// Attribute types are AttributeType numbers; maxInputs/maxOutputs null means unbounded.",
      'import type { OpSchema } from "../types.js";',
      "",
      "export const OP_SCHEMAS: readonly OpSchema[] = [",
      ...lines,
      "];",
      "",
    ].join("\n"),
  );
  const domains = new Map<string, number>();
  for (const s of schemas) domains.set(s.domain, (domains.get(s.domain) ?? 0) + 1);
  console.log(
    `${schemas.length} schemas written to ${out}: ${[...domains].map(([d, n]) => `${d || "ai.onnx"} ${n}`).join(", ")}`,
  );
}

main(args["onnx-docs"], args["contrib-docs"], args.out);
