/** ajv's errors in plain words: what is wrong at which key, what was expected, what to do. */
import type { ErrorObject } from "ajv";
import { closestMatch } from "../suggest.js";
import type { KeyPath } from "./node.js";

/** A problem at a key path, before it is given a file position. */
export interface Problem {
  readonly path: KeyPath;
  readonly message: string;
  readonly hint?: string;
}

type Schema = Record<string, unknown>;

/** `data` is the validated value, which tells list indexes from map keys in ajv's paths. */
export function translateErrors(errors: readonly ErrorObject[], data: unknown): Problem[] {
  // A value of the wrong type fails its other rules too (enum, pattern); say only the type.
  const mistyped = new Set(errors.filter((e) => e.keyword === "type").map((e) => e.instancePath));
  return errors.flatMap((error) => {
    if (mistyped.has(error.instancePath) && error.keyword !== "type") return [];
    const problem = translate(error, pointerPath(error.instancePath, data));
    return problem ? [problem] : [];
  });
}

function translate(error: ErrorObject, path: KeyPath): Problem | undefined {
  const params = error.params as Record<string, unknown>;
  const schema = (error.parentSchema ?? {}) as Schema;
  const got = describe(error.data);
  // Wordings of their own come from the recipe checks (model or bundle) or add nothing (if).
  if (error.schemaPath.startsWith("#/oneOf") || error.keyword === "if") return undefined;
  if (error.keyword === "propertyNames") return undefined;
  if (error.propertyName !== undefined) return propertyName(path, error);
  switch (error.keyword) {
    case "additionalProperties":
      return unknownKey(path, String(params.additionalProperty), schema);
    case "required": {
      const key = String(params.missingProperty);
      const property = (schema.properties as Record<string, Schema> | undefined)?.[key];
      return {
        path,
        message: `missing the required key "${key}"`,
        ...(typeof property?.description === "string"
          ? { hint: `${key}: ${property.description}` }
          : {}),
      };
    }
    case "type":
      return { path, message: `expected ${typeNames(params.type)}, got ${got}` };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const suggestion =
        typeof error.data === "string"
          ? closestMatch(
              error.data,
              allowed.filter((v) => typeof v === "string"),
            )
          : undefined;
      return {
        path,
        message: `must be one of ${allowed.map(show).join(", ")} (got ${got})`,
        ...(suggestion ? { hint: `did you mean "${suggestion}"?` } : {}),
      };
    }
    case "const":
      return { path, message: `must be ${show(params.allowedValue)} (got ${got})` };
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { path, message: `must be ${BOUNDS[error.keyword]} ${params.limit} (got ${got})` };
    case "multipleOf":
      return { path, message: `must be a multiple of ${params.multipleOf} (got ${got})` };
    case "minLength":
      return params.limit === 1
        ? { path, message: "must not be empty" }
        : { path, message: `must have at least ${params.limit} characters (got ${got})` };
    case "maxLength":
      return { path, message: `must have at most ${params.limit} characters (got ${got})` };
    case "minItems":
    case "maxItems":
    case "minProperties":
    case "maxProperties":
      return { path, message: countMessage(error.keyword, Number(params.limit), error.data) };
    case "uniqueItems": {
      const item = (error.data as unknown[])[Number(params.i)];
      return { path, message: `lists ${show(item)} twice`, hint: "remove the repeated entry" };
    }
    case "pattern":
      return { path, message: patternMessage(schema, String(params.pattern), got) };
    case "format":
      if (params.format === "regex") {
        return {
          path,
          message: `must be a regular expression (got ${got})`,
          hint: "escape ( ) [ ] . * + ? with \\ to match them literally",
        };
      }
      return { path, message: `must be a valid ${params.format} (got ${got})` };
    default:
      return { path, message: error.message ?? `fails the schema's "${error.keyword}" rule` };
  }
}

const BOUNDS: Record<string, string> = {
  minimum: "at least",
  maximum: "at most",
  exclusiveMinimum: "greater than",
  exclusiveMaximum: "less than",
};

function unknownKey(path: KeyPath, key: string, schema: Schema): Problem {
  const allowed = Object.keys((schema.properties as Schema | undefined) ?? {});
  const suggestion = closestMatch(key, allowed);
  const hint = suggestion
    ? `did you mean "${suggestion}"?`
    : allowed.length === 0
      ? "nothing may be set here"
      : allowed.length <= 12
        ? `allowed keys: ${allowed.join(", ")}`
        : undefined;
  return { path: [...path, key], message: `unknown key "${key}"`, ...(hint ? { hint } : {}) };
}

function propertyName(path: KeyPath, error: ErrorObject): Problem {
  const name = String(error.propertyName);
  const what = path.length === 1 && path[0] === "vars" ? "variable name" : "id";
  const rule =
    what === "id"
      ? "use letters, digits, _ and -, starting with a letter"
      : "use letters, digits, _ and -, starting with a letter or _";
  return { path: [...path, name], message: `"${name}" is not a valid ${what}`, hint: rule };
}

function patternMessage(schema: Schema, pattern: string, got: string): string {
  const examples = Array.isArray(schema.examples) ? schema.examples : [];
  if (examples.length > 0) {
    return `expected text such as ${examples.map(show).join(" or ")} (got ${got})`;
  }
  return `must match the pattern ${pattern} (got ${got})`;
}

function countMessage(keyword: string, limit: number, data: unknown): string {
  const items = keyword.endsWith("Items");
  const count = items ? (data as unknown[]).length : Object.keys(data as object).length;
  const noun = items ? (limit === 1 ? "item" : "items") : limit === 1 ? "entry" : "entries";
  const bound = keyword.startsWith("min") ? "at least" : "at most";
  return `must have ${bound} ${limit} ${noun} (got ${count})`;
}

const TYPE_NAMES: Record<string, string> = {
  integer: "an integer",
  number: "a number",
  string: "text",
  boolean: "true or false",
  object: "a map",
  array: "a list",
  null: "null",
};

function typeNames(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(",");
  return types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(" or ");
}

/** A value as a message quotes it: text in quotes, maps and lists by kind. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return show(value);
}

function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

/** `/passes/int4/options/blockSize` → ["passes", "int4", "options", "blockSize"]; `/plugins/0` → ["plugins", 0]. */
function pointerPath(pointer: string, data: unknown): KeyPath {
  if (!pointer) return [];
  const path: (string | number)[] = [];
  let value = data;
  for (const segment of pointer.slice(1).split("/")) {
    const key = segment.replace(/~1/g, "/").replace(/~0/g, "~");
    const index = Array.isArray(value) ? Number(key) : undefined;
    path.push(index ?? key);
    value = (value as Record<string | number, unknown> | undefined)?.[index ?? key];
  }
  return path;
}
