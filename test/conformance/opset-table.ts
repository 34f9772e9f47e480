/**
 * Prints the backend-suite section of docs/opset-conversion.md: every case converted to the
 * newest opset, which adapters each conversion used, and why the others were refused or could
 * not be judged. Run after a build (it imports @lathe/core's dist):
 *
 *     pnpm build && npx tsx --tsconfig tsconfig.test.json test/conformance/opset-table.ts
 */
import { NEWEST_CONVERTIBLE_OPSET } from "@lathe/core";
import {
  listCases,
  SUITE_FOLDERS,
  TESTDATA_MISSING,
  testdataInstalled,
} from "../helpers/onnx-testdata.js";
import { type ConversionOutcome, convertCase } from "../helpers/opset-case.js";

if (!testdataInstalled()) {
  console.error(TESTDATA_MISSING);
  process.exit(1);
}
const rows: { name: string; outcome: ConversionOutcome }[] = [];
for (const folder of SUITE_FOLDERS)
  for (const testCase of listCases(folder))
    rows.push({
      name: `${folder}/${testCase.name}`,
      outcome: await convertCase(testCase, NEWEST_CONVERTIBLE_OPSET),
    });

const count = (kind: ConversionOutcome["kind"]) =>
  rows.filter((r) => r.outcome.kind === kind).length;
const out: string[] = [];
out.push(
  `${rows.length} models; converted to opset ${NEWEST_CONVERTIBLE_OPSET} and equal on ONNX Runtime: ${count("converted")}; refused: ${count("refused")}; not judged: ${count("excluded")}; failed: ${count("failed")}.`,
  "",
);

// Adapter → the cases that needed it.
const byAdapter = new Map<string, string[]>();
for (const { name, outcome } of rows) {
  if (outcome.kind !== "converted") continue;
  for (const use of outcome.adapters) {
    const key = `${use.adapter} (${use.op}, at ${use.version})`;
    byAdapter.set(key, [...(byAdapter.get(key) ?? []), name.split("/")[1]!]);
  }
}
out.push(
  "### Which adapters each conversion used",
  "",
  "| adapter (op, at opset) | models | which |",
  "| --- | --- | --- |",
);
for (const [adapter, names] of [...byAdapter].sort())
  out.push(`| ${adapter} | ${names.length} | ${names.join(", ")} |`);
const plain = rows.filter(
  (r) => r.outcome.kind === "converted" && r.outcome.adapters.length === 0,
).length;
out.push(
  "",
  `The other ${plain} converted models needed no rewrite: their ops kept their meaning.`,
  "",
);

const lowered = rows.filter(
  (r) => r.outcome.kind === "converted" && r.outcome.target < NEWEST_CONVERTIBLE_OPSET,
);
if (lowered.length > 0) {
  out.push(
    "### Converted below the newest opset",
    "",
    "ONNX Runtime 1.30 lacks a kernel for an op's newest version in these; the newest opset it runs for the model is used.",
    "",
    "| model | opset |",
    "| --- | --- |",
  );
  for (const { name, outcome } of lowered)
    if (outcome.kind === "converted") out.push(`| ${name} | ${outcome.from} → ${outcome.target} |`);
  out.push("");
}

const byReference = rows.filter(
  (r) => r.outcome.kind === "converted" && r.outcome.reference === "suite's expected outputs",
).length;
out.push(
  `Compared with the original on ONNX Runtime (rtol 1e-4, atol 1e-6), except ${byReference} models whose original ORT cannot load: those are compared with the suite's expected outputs at the suite's tolerance (rtol 1e-3, atol 1e-7).`,
  "",
);

out.push(
  "### Refused, with the converter's reason",
  "",
  "| model | from | reason |",
  "| --- | --- | --- |",
);
for (const { name, outcome } of rows)
  if (outcome.kind === "refused")
    out.push(
      `| ${name} | ${outcome.from ?? "–"} | ${outcome.reason.replace(/\n\s*/g, " ").replace(/\|/g, "\\|")} |`,
    );
out.push("", "### Not judged", "", "| model | why |", "| --- | --- |");
for (const { name, outcome } of rows)
  if (outcome.kind === "excluded")
    out.push(
      `| ${name} | ${outcome.reason}: ${outcome.detail.replace(/\|/g, "\\|").slice(0, 160)} |`,
    );
for (const { name, outcome } of rows)
  if (outcome.kind === "failed") out.push(`| ${name} | FAILED: ${outcome.detail} |`);
console.log(out.join("\n"));
