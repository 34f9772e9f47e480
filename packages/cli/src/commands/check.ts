import {
  type CheckFinding,
  type CheckReport,
  checkModel,
  formatFinding,
  loadModel,
  verifyModel,
} from "@lathe/core";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../base-command.js";

interface CheckResult extends CheckReport {
  model: string;
  valid: boolean;
  /** With --load: whether ONNX Runtime opened the model, or why it refused. */
  load?: { loaded: boolean; error?: string };
}

export default class Check extends BaseCommand {
  static override summary =
    "Check an ONNX model against the ONNX operator schemas, as ONNX's checker and ONNX Runtime would.";
  static override description =
    `Every node's op must exist in its domain at the model's imported opset, with its required inputs, known attributes of the right types and allowed value types; every graph (If/Loop/Scan bodies and functions too) must define each value once, before its use; initializers must agree with their declared types; every used domain must be imported, and the IR version must fit the opsets. Each finding names the graph, the node, what is wrong, and a hint. Custom-domain ops the table does not describe are counted, not checked.

Exit codes: 0 no errors (warnings are printed); 1 the model has errors, or could not be read. docs/onnx-checks.md lists every finding.`;
  static override examples = [
    "<%= config.bin %> <%= command.id %> model.onnx",
    "<%= config.bin %> <%= command.id %> model.onnx --load     # also open it in ONNX Runtime",
    "<%= config.bin %> <%= command.id %> model.onnx --json",
  ];
  static override enableJsonFlag = true;
  static override args = {
    model: Args.string({ description: "Path of the .onnx file.", required: true }),
  };
  static override flags = {
    load: Flags.boolean({
      description:
        "When the checker finds no error, also open the model in an ONNX Runtime CPU session.",
    }),
  };

  async run(): Promise<CheckResult> {
    const { args, flags } = await this.parse(Check);
    const model = await loadModel(args.model);
    const report = checkModel(model);
    let load: CheckResult["load"];
    if (flags.load && report.errors === 0) {
      const verified = await verifyModel(model, "model", {
        level: "load",
        loadLimitBytes: Number.POSITIVE_INFINITY,
      });
      load = verified.loaded
        ? { loaded: true }
        : { loaded: false, error: verified.failure?.message ?? verified.loadSkipped ?? "" };
    }
    const valid = report.errors === 0 && (load?.loaded ?? true);
    for (const finding of sorted(report.findings)) this.log(formatLine(finding));
    this.log(summaryLine(args.model, report, load));
    if (!valid) process.exitCode = 1;
    return { model: args.model, valid, ...report, ...(load ? { load } : {}) };
  }
}

/** Errors before warnings, each group in the order found (graph order). */
function sorted(findings: readonly CheckFinding[]): CheckFinding[] {
  return [
    ...findings.filter((f) => f.severity === "error"),
    ...findings.filter((f) => f.severity === "warning"),
  ];
}

function formatLine(finding: CheckFinding): string {
  return `${finding.severity} ${finding.code}: ${formatFinding(finding)}\n  hint: ${finding.hint}`;
}

function summaryLine(file: string, report: CheckReport, load: CheckResult["load"]): string {
  const parts = [
    `${count(report.errors, "error")}, ${count(report.warnings, "warning")}`,
    `${count(report.nodesChecked, "node")} checked`,
  ];
  const unchecked = Object.entries(report.unchecked);
  if (unchecked.length > 0)
    parts.push(`not checked (no schema): ${unchecked.map(([d, n]) => `${d} ${n}`).join(", ")}`);
  if (load) parts.push(load.loaded ? "ONNX Runtime loads it" : `ONNX Runtime: ${load.error}`);
  return `${file}: ${parts.join("; ")}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
