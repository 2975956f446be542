"""The media store: photos addressed by their SHA-256, so the same image is kept once.

`MediaBackend` is where bytes live (a folder today; S3-compatible storage can be another backend);
`inspect_image` decides what is an image by decoding it, never by its name.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from common.processes import OneWorker

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
Image.MAX_IMAGE_PIXELS = 80_000_000  # refuse decompression bombs well above any phone camera


class NotAnImage(ValueError):
    pass


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    size: int
    width: int
    height: int
    mime_type: str

    def row(self) -> dict:
        """As the media table keeps it (repo.record_media), and as a draft's photo answer holds it."""
        return asdict(self)


def inspect_image(data: bytes) -> ImageInfo:
    """Decode the whole file, so a truncated or damaged image is refused on receipt (a reviewer could not
    open it later), and describe it. Runs in a worker thread: a 12-megapixel photo takes a few tenths."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
            image.verify()  # checksums and structure (verify leaves the image unusable: reopen to decode)
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # every pixel: "image file is truncated" and broken streams surface here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    if fmt not in ACCEPTED_FORMATS:
        raise NotAnImage(f"format {fmt or 'unknown'} not accepted")
    return ImageInfo(hashlib.sha256(data).hexdigest(), len(data), width, height, ACCEPTED_FORMATS[fmt])


class MediaBackend(Protocol):
    async def put(self, sha256: str, data: bytes) -> None:
        """Keep `data` under its hash; bytes already kept are left alone (content-addressed)."""
    async def get(self, sha256: str) -> bytes: ...
    async def exists(self, sha256: str) -> bool: ...


class FolderBackend:
    """Files under MEDIA_DIR as ab/cd/<sha256>; written to a temporary name, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, sha256: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, sha256, data)

    async def get(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).exists)

    def _write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)  # atomic: a crash leaves no half-written photo under its hash
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MediaStore:
    def __init__(self, backend: MediaBackend) -> None:
        self.backend = backend
        self.previews = Previews()

    async def save(self, data: bytes) -> ImageInfo:
        """Check that `data` is an image and keep it; the same bytes are stored once."""
        info = await asyncio.to_thread(inspect_image, data)
        await self.backend.put(info.sha256, data)  # a backend keeps bytes it already has as they are
        return info

    async def load(self, sha256: str) -> bytes:
        return await self.backend.get(sha256)

    async def preview(self, sha256: str) -> bytes:
        """The stored photo as a phone shows it (`preview`), drawn in a worker process when it must be."""
        return await self.previews.of(await self.load(sha256))

    def close(self) -> None:
        self.previews.close()


PREVIEW_SIDE = 2560  # within Telegram's photo limits (10 MB, width + height ≤ 10000, ratio ≤ 20)


def preview(data: bytes) -> bytes:
    """A JPEG a reviewer's phone can show; originals stay untouched in the media store."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if len(data) <= 5_000_000 and max(width, height) <= PREVIEW_SIDE and max(width, height) <= 20 * min(
                width, height) and image.format in ("JPEG", "PNG"):  # a chart stays a sharp PNG
            return data
        image = image.convert("RGB")
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        if max(image.size) > 20 * min(image.size):  # a panorama: pad to a shape Telegram accepts
            side = max(image.size) // 20 + 1
            canvas = Image.new("RGB", (max(image.width, side), max(image.height, side)), "white")
            canvas.paste(image)
            image = canvas
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def needs_redrawing(data: bytes) -> bool:
    """Whether `preview` would draw the image again (from its header alone: microseconds)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        return not (len(data) <= 5_000_000 and max(width, height) <= PREVIEW_SIDE
                    and max(width, height) <= 20 * min(width, height) and image.format in ("JPEG", "PNG"))


class Previews:
    """Previews drawn in a worker process (a pool of one, started on first use): a 12-megapixel photo takes
    about 0.4 s to decode, shrink and encode, which in this process (even in a thread, with the GIL) would
    stall every chat. A photo a phone can show as it is goes as it is, without the worker."""

    def __init__(self) -> None:
        self.worker = OneWorker()

    async def of(self, data: bytes) -> bytes:
        if not needs_redrawing(data):
            return data
        return await self.worker.run(preview, data, again=True)

    def close(self) -> None:
        self.worker.close()


def resized_jpeg(data: bytes, side: int) -> bytes:
    """A copy for the web, at most `side` pixels a side, turned upright as the camera meant it; originals stay
    untouched in the store. Runs in a worker thread."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=82, optimize=True)
        return out.getvalue()
