import type { ModelBundle } from "../bundle.js";
import { errors } from "../diagnostics.js";
import type { Model } from "../ir/model.js";
import type { PassDefinition, Plugin } from "../plugin/types.js";

/**
 * After a pass: every op domain its output uses must be imported. A domain the input imported
 * (`inherited`: domain → version, read before the pass ran) keeps its version, a domain the
 * pass declared in `introduces` gets the declared one (imported only where it is used), and
 * any other domain is a broken contract: the plugin's author has to declare it.
 */
export function settleOpsetImports(
  inherited: ReadonlyMap<string, number>,
  output: ModelBundle,
  pass: PassDefinition,
  plugin: Plugin,
): void {
  const declared = new Map((pass.introduces ?? []).map((i) => [normalize(i.domain), i.version]));
  for (const model of output.components.values()) {
    const localFunctionDomains = new Set([...model.functions.values()].map((f) => f.domain));
    for (const domain of usedDomains(model)) {
      if (localFunctionDomains.has(domain)) continue;
      const version = declared.get(domain) ?? inherited.get(domain);
      if (version === undefined) {
        throw errors.pluginContract(
          plugin.meta.name,
          `pass ${pass.id}`,
          `emitted domain "${domain}" it did not declare`,
          `add { domain: "${domain}", version: <opset> } to the pass's introduces`,
        );
      }
      if (!model.opsetImports.has(domain)) model.opsetImports.set(domain, version);
    }
  }
}

function usedDomains(model: Model): Set<string> {
  const domains = new Set<string>();
  for (const node of model.allNodes()) domains.add(normalize(node.domain));
  return domains;
}

function normalize(domain: string): string {
  return domain === "ai.onnx" ? "" : domain;
}
