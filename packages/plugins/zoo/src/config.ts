import { closestMatch, LatheError } from "@lathe/core";
import type { ConfigValue, ZooModel } from "./zoo-model.js";

/**
 * Resolves a zoo model's configuration: a preset (`size`, default the model's default preset)
 * with `key=value` overrides, each checked against the model's documented keys.
 */
export function resolveConfig(
  model: ZooModel,
  overrides: Readonly<Record<string, string>>,
): { preset: string; config: Record<string, ConfigValue> } {
  const { size, ...rest } = overrides;
  const preset = size ?? model.defaultPreset;
  const base = model.presets[preset];
  if (!base) {
    throw new LatheError("ZOO_CONFIG_INVALID", `${model.name} has no size "${preset}"`, {
      where: `zoo:${model.name}`,
      hint: `sizes: ${Object.keys(model.presets).join(", ")}`,
    });
  }
  const config: Record<string, ConfigValue> = { ...base };
  for (const [key, text] of Object.entries(rest)) {
    const spec = model.configKeys[key];
    if (!spec) {
      const known = Object.keys(model.configKeys);
      const close = closestMatch(key, known);
      throw new LatheError("ZOO_CONFIG_INVALID", `${model.name} has no config key "${key}"`, {
        where: `zoo:${model.name}`,
        hint: close
          ? `did you mean "${close}"? Keys: size, ${known.join(", ")}`
          : `keys: size, ${known.join(", ")}`,
      });
    }
    config[key] = parseValue(model.name, key, text, spec);
  }
  return { preset, config };
}

function parseValue(
  model: string,
  key: string,
  text: string,
  spec: ZooModel["configKeys"][string],
): ConfigValue {
  const bad = (expected: string) =>
    new LatheError(
      "ZOO_CONFIG_INVALID",
      `${model} config "${key}" is "${text}", expected ${expected}`,
      {
        where: `zoo:${model}`,
        hint: spec.description,
      },
    );
  switch (spec.type) {
    case "boolean":
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      throw bad("true or false");
    case "integer":
    case "number": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw bad(`a ${spec.type}`);
      if (spec.type === "integer" && !Number.isInteger(n)) throw bad("an integer");
      if (spec.minimum !== undefined && n < spec.minimum) throw bad(`a value ≥ ${spec.minimum}`);
      return n;
    }
    case "string":
      if (spec.enum && !spec.enum.includes(text)) throw bad(`one of ${spec.enum.join(", ")}`);
      return text;
  }
}

/** Parses `key=value` pairs (from `--config` flags). */
export function parseAssignments(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new LatheError("ZOO_CONFIG_INVALID", `"${pair}" is not key=value`, {
        hint: "write --config size=small --config layers=4",
      });
    }
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** Splits a model source such as `zoo:gpt2?size=tiny&kvCache=true` into name and overrides. */
export function parseZooSource(source: string): {
  name: string;
  overrides: Record<string, string>;
} {
  const match = /^zoo:([a-z0-9-]+)(?:\?(.*))?$/.exec(source);
  if (!match) {
    throw new LatheError("ZOO_SOURCE_INVALID", `"${source}" is not a zoo source`, {
      hint: "write zoo:<name>?key=value&key=value, for example zoo:gpt2?size=tiny",
    });
  }
  const overrides: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(match[2] ?? "")) overrides[k] = v;
  return { name: match[1]!, overrides };
}
