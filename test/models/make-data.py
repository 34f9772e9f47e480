"""Task data for the real trained models (test/models), made at test time from known truth.

    make-data.py text  OUT   text lines rendered with Pillow and the DejaVu fonts: OUT/<split>/NNN.png
                             (48 x 320, black on white), OUT/<split>/labels.csv (`NNN.png,<line>`) and
                             OUT/<split>/images.npy (numpy's preparation of the recognizer's input)
    make-data.py speech OUT  sentences spoken by espeak-ng (22.05 kHz mono), joined with known silences:
                             OUT/<split>/NNN.wav and OUT/<split>/NNN.labels (one 0/1 per 512-sample
                             frame at 16 kHz, the rate the detector reads)

Both are deterministic: fixed strings and a seeded generator. Splits: `calibration` and
`evaluation` share no line and no sentence.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import wave

import numpy as np

HEIGHT, WIDTH = 48, 320
FRAME = 512
RATE = 16000  # the detector's rate: the audio data source resamples to it
SPEECH_RATE = 22050  # espeak-ng's

WORDS = (
    "river stone market quiet seven orange planet window number garden silver yellow "
    "engine paper morning travel signal bridge winter summer kitchen letter doctor forest "
    "island camera button coffee mirror pocket rabbit ticket velvet wallet"
).split()


def text_lines(rng, count):
    lines = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(2, 3)):
            word = rng.choice(WORDS)
            parts.append(word.capitalize() if rng.random() < 0.3 else word)
        if rng.random() < 0.6:
            parts.insert(rng.randint(0, len(parts)), str(rng.randint(2, 9999)))
        line = " ".join(parts)
        if rng.random() < 0.4:
            line += rng.choice([".", ",", ":", "!", "?"])
        lines.append(line)
    return lines


def render(line, font_path, size):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, size)
    left, top, right, bottom = font.getbbox(line)
    width, height = right - left + 8, HEIGHT
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).text((4 - left, (HEIGHT - (bottom - top)) // 2 - top), line, fill="black", font=font)
    if width > WIDTH:  # too long: shrink to fit, as a recognizer's preprocessing would
        image = image.resize((WIDTH, HEIGHT), Image.BILINEAR)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    canvas.paste(image, (0, 0))
    return canvas


def make_text(out):
    fonts_dir = "/usr/share/fonts/truetype/dejavu"
    fonts = [os.path.join(fonts_dir, f) for f in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf")]
    fonts = [f for f in fonts if os.path.exists(f)]
    if not fonts:
        sys.exit("no DejaVu fonts (apt-get install fonts-dejavu-core)")
    rng = random.Random(15)
    seen = set()
    for split, count in (("calibration", 16), ("evaluation", 32)):
        folder = os.path.join(out, split)
        os.makedirs(folder)
        lines = []
        while len(lines) < count:
            line = text_lines(rng, 1)[0]
            if line in seen:
                continue
            seen.add(line)
            lines.append(line)
        images = []
        for i, line in enumerate(lines):
            image = render(line, fonts[i % len(fonts)], rng.choice([26, 28, 30]))
            image.save(os.path.join(folder, f"{i:03d}.png"))
            images.append(np.asarray(image, dtype=np.float32).transpose(2, 0, 1))
        # the recognizer's input prepared by numpy, (x / 255 - 0.5) / 0.5: what
        # data-sources.test.ts holds the images data source to
        np.save(os.path.join(folder, "images.npy"), (np.stack(images) / 255 - 0.5) / 0.5)
        # the images data source's labels file: the file, a comma, the transcript
        with open(os.path.join(folder, "labels.csv"), "w") as f:
            f.write("".join(f"{i:03d}.png,{line}\n" for i, line in enumerate(lines)))


SENTENCES = [
    "the weather is fine today",
    "please open the window",
    "seven orange boats sailed home",
    "where did you put the keys",
    "a quiet river runs past the mill",
    "turn left at the second bridge",
    "the doctor will see you now",
    "bring two cups of coffee",
    "my train leaves at nine",
    "the garden needs more water",
    "listen to the distant thunder",
    "count the stars one by one",
    "the market opens early on friday",
    "she wrote a long letter",
    "put the camera in the bag",
    "we walked across the island",
]


def speak(text, voice, speed, pitch):
    """The utterance at espeak-ng's rate, without its own leading and trailing silence."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", path, text], check=True)
        with wave.open(path) as w:
            if w.getframerate() != SPEECH_RATE:
                sys.exit(f"espeak-ng wrote {w.getframerate()} Hz, expected {SPEECH_RATE}")
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768
    loud = np.nonzero(np.abs(samples) > 0.01)[0]
    return samples[loud[0] : loud[-1] + 1]


def make_speech(out):
    rng = random.Random(15)
    noise = np.random.default_rng(15)
    voices = ["en", "en-us", "en+f3", "en+m3"]
    for split, sentences, clips in (("calibration", SENTENCES[:4], 4), ("evaluation", SENTENCES[4:], 12)):
        folder = os.path.join(out, split)
        os.makedirs(folder)
        for c in range(clips):
            pieces, truth = [], []
            pieces.append(np.zeros(int(SPEECH_RATE * rng.uniform(0.3, 1.0))))
            truth.append(np.zeros(len(pieces[-1]), dtype=bool))
            for _ in range(3):
                speech = speak(rng.choice(sentences), rng.choice(voices), rng.randint(140, 190), rng.randint(35, 65))
                speech *= rng.uniform(0.3, 0.9) / max(1e-9, np.abs(speech).max())
                pieces.append(speech)
                truth.append(np.ones(len(speech), dtype=bool))
                gap = np.zeros(int(SPEECH_RATE * rng.uniform(0.6, 1.6)))
                pieces.append(gap)
                truth.append(np.zeros(len(gap), dtype=bool))
            audio = np.concatenate(pieces)
            audio += noise.normal(0, 10 ** (-45 / 20), len(audio))  # a quiet room, not digital silence
            is_speech = np.concatenate(truth)
            # frames of the 16 kHz stream, mapped back onto the 22.05 kHz truth by time
            frames = (len(audio) * RATE // SPEECH_RATE) // FRAME
            at = lambda f: round(f * FRAME * SPEECH_RATE / RATE)
            labels = [int(is_speech[at(f) : at(f + 1)].mean() >= 0.5) for f in range(frames)]
            pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
            with wave.open(os.path.join(folder, f"{c:03d}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SPEECH_RATE)
                w.writeframes(pcm.tobytes())
            with open(os.path.join(folder, f"{c:03d}.labels"), "w") as f:
                f.write("".join(map(str, labels)) + "\n")


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    {"text": make_text, "speech": make_speech}[kind](out)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"kind": kind, "frame": FRAME, "rate": RATE, "speechRate": SPEECH_RATE, "height": HEIGHT, "width": WIDTH}, f)
