import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests import workspace packages from source, so `vitest` needs no build first.
const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      // The subpath first: "@lathe/core" would otherwise match "@lathe/core/testing" as a prefix.
      "@lathe/core/testing": src("./packages/core/src/testing/index.ts"),
      "@lathe/core": src("./packages/core/src/index.ts"),
      "@lathe/plugin-zoo": src("./packages/plugins/zoo/src/index.ts"),
      "@lathe/plugin-quantize": src("./packages/plugins/quantize/src/index.ts"),
      "@lathe/plugin-flash-attention": src("./packages/plugins/flash-attention/src/index.ts"),
      "@lathe/plugin-diffusion": src("./packages/plugins/diffusion/src/index.ts"),
      "@lathe/plugin-latent": src("./packages/plugins/latent/src/index.ts"),
      "@lathe/plugin-prune": src("./packages/plugins/prune/src/index.ts"),
      "@lathe/plugin-ctc": src("./packages/plugins/ctc/src/index.ts"),
    },
  },
  test: {
    include: ["packages/**/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // CI asks for a JSON report too (.ci/run prints its totals); pnpm would eat a --reporter flag.
    ...(process.env.LATHE_TEST_JSON
      ? { reporters: ["default", "json"], outputFile: { json: process.env.LATHE_TEST_JSON } }
      : {}),
  },
});
