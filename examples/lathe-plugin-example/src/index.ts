import { createRequire } from "node:module";
import { definePlugin, PLUGIN_API_VERSION } from "@lathe/core";
import { removeIdentity } from "./remove-identity.js";

const { name, version } = createRequire(import.meta.url)("../../package.json") as {
  name: string;
  version: string;
};

export { type RemoveIdentityOptions, removeIdentity } from "./remove-identity.js";

/** example/remove-identity: Identity and Dropout nodes removed, consumers rewired. */
export default definePlugin({
  meta: { name, version, apiVersion: PLUGIN_API_VERSION },
  passes: [removeIdentity],
});
