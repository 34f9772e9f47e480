/**
 * Band-limited resampling: each output sample is the input convolved with a Hann-windowed sinc
 * low-pass at the lower of the two Nyquist rates (times `rolloff`), the method and defaults of
 * torchaudio's `resample` (sinc_interp_hann, 6 zero crossings, rolloff 0.99). Samples outside
 * the signal count as zeros; the output has ceil(n · to / from) samples.
 */

const LOWPASS_WIDTH = 6;
const ROLLOFF = 0.99;

export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return samples;
  const g = gcd(from, to);
  const step = from / g; // input samples per `phases` output samples
  const phases = to / g;
  const cutoff = ROLLOFF * Math.min(1, to / from); // in cycles per input sample × 2
  const half = LOWPASS_WIDTH / cutoff; // the kernel's half width, in input samples
  const length = Math.ceil((samples.length * to) / from);
  const out = new Float32Array(length);
  // Output i sits at input position (i · step) / phases; its kernel depends on i mod phases only.
  const kernels = new Map<number, { first: number; taps: Float64Array }>();
  const kernel = (phase: number) => {
    let k = kernels.get(phase);
    if (k) return k;
    const position = (phase * step) / phases; // within [0, step)
    const first = Math.ceil(position - half);
    const last = Math.floor(position + half);
    const taps = new Float64Array(last - first + 1);
    for (let n = first; n <= last; n++) {
      const t = position - n;
      const window = Math.cos((Math.PI * t) / (2 * half)) ** 2;
      taps[n - first] = cutoff * sinc(cutoff * t) * window;
    }
    k = { first, taps };
    if (phases <= 4096) kernels.set(phase, k);
    return k;
  };
  for (let i = 0; i < length; i++) {
    const phase = i % phases;
    const base = ((i - phase) / phases) * step;
    const { first, taps } = kernel(phase);
    let sum = 0;
    const start = base + first;
    const from0 = Math.max(0, -start);
    const to0 = Math.min(taps.length, samples.length - start);
    for (let k = from0; k < to0; k++) sum += taps[k]! * samples[start + k]!;
    out[i] = sum;
  }
  return out;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
