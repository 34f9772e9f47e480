import { describe, expect, it } from "vitest";
import { builtinDataSources } from "../../src/data/sources.js";
import { builtinMetricsPlugin } from "../../src/evaluate/builtin-plugin.js";
import { DEFAULT_TIMING } from "../../src/evaluate/timing.js";
import {
  convertOpsetPassOptionsSchema,
  latencyOptionsSchema,
} from "../../src/generated/options.js";
import {
  NEWEST_CONVERTIBLE_OPSET,
  OLDEST_CONVERTIBLE_OPSET,
} from "../../src/opset/adapters/table.js";
import { convertOpsetPass } from "../../src/opset/pass.js";

// The JSDoc tags are literals; these tests keep them equal to the constants the code uses.
describe("core's generated options schemas", () => {
  it("core/latency's defaults are DEFAULT_TIMING", () => {
    const defaults = Object.fromEntries(
      Object.entries(latencyOptionsSchema.properties)
        .filter(([, property]) => "default" in property)
        .map(([name, property]) => [name, property.default]),
    );
    expect(defaults).toEqual({ ...DEFAULT_TIMING });
  });

  it("onnx/convert-opset's range is the converter's", () => {
    const opset = convertOpsetPassOptionsSchema.properties.opset!;
    expect([opset.minimum, opset.maximum, opset.default]).toEqual([
      OLDEST_CONVERTIBLE_OPSET,
      NEWEST_CONVERTIBLE_OPSET,
      NEWEST_CONVERTIBLE_OPSET,
    ]);
    expect(convertOpsetPass.options).toBe(convertOpsetPassOptionsSchema);
  });

  it("every built-in metric and data source documents every option", () => {
    for (const definition of [...(builtinMetricsPlugin.metrics ?? []), ...builtinDataSources]) {
      for (const [name, property] of Object.entries(definition.options.properties))
        expect(typeof property.description, `${definition.id}.${name}`).toBe("string");
    }
  });
});
