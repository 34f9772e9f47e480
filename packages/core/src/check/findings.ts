/**
 * What the checker can find. Errors are what ONNX's checker or ONNX Runtime's loader refuse;
 * warnings are doubtful but loadable (an op the contrib table may not know yet, an IR version
 * older than its opset was released with).
 */
export type CheckCode =
  | "MISSING_OPSET_IMPORT"
  | "IR_VERSION"
  | "UNKNOWN_OP"
  | "OP_NOT_IN_OPSET"
  | "OP_REMOVED"
  | "INPUT_COUNT"
  | "MISSING_INPUT"
  | "OUTPUT_COUNT"
  | "MISSING_OUTPUT"
  | "UNKNOWN_ATTRIBUTE"
  | "ATTRIBUTE_TYPE"
  | "MISSING_ATTRIBUTE"
  | "TYPE_NOT_ALLOWED"
  | "TYPE_MISMATCH"
  | "UNDEFINED_VALUE"
  | "USE_BEFORE_DEFINITION"
  | "DUPLICATE_NAME"
  | "EMPTY_NAME"
  | "INITIALIZER_TYPE"
  | "INITIALIZER_NOT_INPUT"
  | "RUNTIME_ONLY_OP";

export interface CheckFinding {
  readonly code: CheckCode;
  readonly severity: "error" | "warning";
  /** The graph, as the graph toolkit names it: `main`, `main/If "cond"/then_branch`, `function d::f`. */
  readonly graph: string;
  /** The node's name, when the finding is about a node. */
  readonly node?: string;
  /** The node's op, `domain::opType` outside the default domain. */
  readonly op?: string;
  readonly message: string;
  readonly hint: string;
}

export interface CheckReport {
  readonly findings: readonly CheckFinding[];
  readonly errors: number;
  readonly warnings: number;
  /** Nodes checked against a schema or a model-local function. */
  readonly nodesChecked: number;
  /** Nodes of domains the table does not describe (custom ops), by domain: not checked. */
  readonly unchecked: Readonly<Record<string, number>>;
}

/** `main › node "attn/MatMul" (MatMul): message` for logs and errors. */
export function formatFinding(finding: CheckFinding): string {
  const node = finding.node !== undefined ? ` › node "${finding.node}" (${finding.op})` : "";
  return `${finding.graph}${node}: ${finding.message}`;
}
