"""Animated GIF and MP4 of a run: the grid's picture (:func:`crowd_model.render.picture`) per
step, with a caption strip giving the step and the time in minutes (:data:`MINUTES_PER_STEP`).

Used by ``crowd-model run --animation`` and by the app's export. Needs ``imageio`` with its
ffmpeg plugin (``imageio-ffmpeg``, which ships an ffmpeg binary) and Pillow: the ``app``
extra installs them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from crowd_model.errors import InputError
from crowd_model.model import MINUTES_PER_STEP
from crowd_model.render import _font, fit_pixels, picture

FORMATS = ("gif", "mp4")
MAX_FPS = 60


def caption_size(width: int) -> int:
    """The caption's font size (pixels) under a picture ``width`` pixels wide: 20 under the live
    view's 1100, at least 12."""
    return max(12, min(28, width // 55))


def animation_format(path: str | Path) -> str:
    """``gif`` or ``mp4`` from the file name; anything else is refused in one line."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(f"--animation {str(path)[:80]!r}: the file name must end in .gif or .mp4")
    return suffix


def minutes(step: int) -> float:
    """The nominal time of ``step`` in minutes."""
    return step * MINUTES_PER_STEP


def time_label(step: int) -> str:
    """``step 12 · 12 min``: the caption of a frame."""
    return f"step {step} · {minutes(step):g} min"


def frame(codes: np.ndarray, step: int, pixels: int | None = None, caption: str | None = None,
          rgb: np.ndarray | None = None) -> np.ndarray:
    """The picture of one step with a caption strip beneath it (``caption`` or
    :func:`time_label`); its sides are even, as the MP4 encoder needs. ``rgb`` is the picture
    when the caller drew it (the app's, with its marks and labels), else :func:`picture`, its
    longer side ``pixels`` (by default the size of the app's live map,
    :func:`crowd_model.render.fit_pixels`)."""
    from PIL import Image, ImageDraw

    rgb = picture(codes, fit_pixels(codes.shape) if pixels is None else pixels) if rgb is None else rgb
    size = caption_size(rgb.shape[1])
    height, width = rgb.shape[0] + size + 10, rgb.shape[1]
    out = Image.new("RGB", (width + width % 2, height + height % 2), (255, 255, 255))
    out.paste(Image.fromarray(rgb), (0, 0))
    ImageDraw.Draw(out).text((6, rgb.shape[0] + 5), caption or time_label(step), fill=(0, 0, 0), font=_font(size))
    return np.asarray(out)


def encode(frames: Iterable[np.ndarray], fmt: str, fps: float) -> bytes:
    """The frames as an animated GIF (looping) or an H.264 MP4 at ``fps`` frames per second."""
    try:
        import imageio.v3 as iio
    except ImportError:
        raise InputError("animations need imageio and imageio-ffmpeg: install the 'app' extra") from None
    frames = list(frames)
    if not frames:
        raise InputError("no frames to write: the step range is empty")
    if not 0 < fps <= MAX_FPS:
        raise InputError(f"frame rate {fps:g} is not allowed; expected a number in (0, {MAX_FPS}]")
    if fmt == "gif":
        # every step a frame of its own (Pillow merges identical neighbours; captions differ)
        return iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
    with tempfile.TemporaryDirectory(prefix="crowd-model-mp4-") as folder:
        path = Path(folder) / "run.mp4"
        iio.imwrite(path, np.stack(frames), plugin="FFMPEG", fps=fps, codec="libx264",
                    macro_block_size=1, output_params=["-pix_fmt", "yuv420p"])
        return path.read_bytes()


def decode_frame_count(data: bytes, fmt: str) -> int:
    """How many frames an encoded animation holds (for checks and tests)."""
    import imageio.v3 as iio

    if fmt == "gif":
        return len(iio.imread(data, index=None, extension=".gif"))
    with tempfile.TemporaryDirectory(prefix="crowd-model-mp4-") as folder:
        path = Path(folder) / "run.mp4"
        path.write_bytes(data)
        return sum(1 for _ in iio.imiter(path, plugin="FFMPEG"))
