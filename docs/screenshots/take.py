"""Screenshots of a report.html at the size a reader sees it (a 1400 px wide Chromium window): one PNG per
section and per figure, palette-reduced to stay small. Usage, from the repository root:

    python docs/screenshots/take.py reports/seed-figures/report.html docs/screenshots

Needs chromium on PATH and Pillow (matplotlib's own dependency)."""

import json
import re
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "analysis"))
from cdp import Browser  # noqa: E402

MAX_HEIGHT = 1800


def main(page: str, out: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Browser(1400, 900) as b:
        b.open(Path(page))
        print("document.scrollWidth at a 1400 px window:", b.evaluate("document.documentElement.scrollWidth"))
        heads = json.loads(b.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('h2,h3')).map("
            "h => [h.tagName, h.textContent, h.getBoundingClientRect().top + window.scrollY]))"))
        heads.append(["END", "", b.evaluate("document.documentElement.scrollHeight")])
        for i, (tag, name, top) in enumerate(heads[:-1]):
            figure = re.match(r"Fig\. (\d+)\.", name)
            if not (tag == "H2" and name.split(":")[0] in ("Findings", "Explorer") or figure):
                continue
            end = next(t for g, _, t in heads[i + 1:] if g == "H2" or g == "END" or figure)
            slug = f"fig{figure.group(1)}" if figure else name.split(":")[0].lower()
            path = out_dir / f"{slug}.png"
            b.screenshot(path, {"x": 0, "y": int(top) - 10, "width": 1400,
                                "height": min(int(end - top), MAX_HEIGHT)})
            small = Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE,
                                                             dither=Image.Dither.NONE)
            small.save(path, optimize=True)
            print(path, path.stat().st_size)


if __name__ == "__main__":
    main(*sys.argv[1:3])
