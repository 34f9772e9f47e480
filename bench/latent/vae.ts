/**
 * latent/pca-channels on zoo vae at Stable Diffusion's size (83.65 M parameters; 4 latent
 * channels carrying a planted rank of 2), CPU: explained variance and decoded PSNR for every k,
 * the latent's bytes at k = 2, and the pass's time. Floor (issue 19): k = 2 keeps decoded PSNR
 * ≥ 40 dB against the full latent at 0.5× the latent bytes.
 *
 *   pnpm bench:latent     # BENCH_IMAGES (default 4), BENCH_SIDE (default 256)
 */
import { runPassStandalone } from "@lathe/core";
import { pcaChannels } from "@lathe/plugin-latent";
import { vae } from "@lathe/plugin-zoo";

const IMAGES = Number(process.env.BENCH_IMAGES ?? 4);
const SIDE = Number(process.env.BENCH_SIDE ?? 256);
const bundle = vae.build(vae.presets.sd as never, { seed: 0 });
const started = performance.now();
const run = await runPassStandalone(pcaChannels, bundle, {
  options: { k: 2, samples: IMAGES, imageShape: [3, SIDE, SIDE] },
  // Times the pass alone: verifying is the tests' job.
  verify: "none",
});
const seconds = (performance.now() - started) / 1000;
const stats = run.result.statistics ?? {};
console.log(
  `\nzoo vae sd (planted rank 2 of 4 channels), ${IMAGES} generated ${SIDE}×${SIDE} images, pass ${seconds.toFixed(1)} s\n`,
);
console.log(
  "| k | explained variance | decoded PSNR vs the full latent | latent bytes |\n|---|---|---|---|",
);
for (let k = 1; k <= 4; k++) {
  console.log(
    `| ${k} | ${(100 * Number(stats[`explained.k${k}`])).toFixed(4)} % | ${Number(stats[`psnr.k${k}`]).toFixed(2)} dB | ${(k / 4).toFixed(2)}× |`,
  );
}
const psnr = Number(stats["psnr.k2"]);
console.log(
  `\nfloor: k = 2 decoded PSNR ${psnr.toFixed(2)} dB ≥ 40 dB and latent bytes 0.50×: ${psnr >= 40 ? "PASS" : "FAIL"}`,
);
