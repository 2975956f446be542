"""Photos are decoded whole on receipt: a damaged file is refused at once, never stored."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from storage.media import NotAnImage, inspect_image
from tests.chat import image_bytes


def noisy_jpeg() -> bytes:
    image = Image.effect_noise((320, 240), 64).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def broken_png() -> bytes:
    """A PNG whose compressed pixel data is damaged, with a valid CRC so only decoding finds it."""
    data = bytearray(image_bytes(size=(64, 48), fmt="PNG"))
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8:start - 4], "big")
    for i in range(start + 2, start + length, 3):
        data[i] ^= 0x5A
    crc = zlib.crc32(bytes(data[start - 4:start + length])) & 0xFFFFFFFF
    data[start + length:start + length + 4] = crc.to_bytes(4, "big")
    return bytes(data)


def test_a_whole_image_is_described():
    info = inspect_image(noisy_jpeg())
    assert (info.width, info.height, info.mime_type) == (320, 240, "image/jpeg")


@pytest.mark.parametrize("damaged", [lambda: noisy_jpeg()[: len(noisy_jpeg()) // 2], broken_png],
                         ids=["first half of a JPEG", "PNG with a broken data stream"])
def test_a_damaged_image_is_refused(damaged):
    with pytest.raises(NotAnImage):
        inspect_image(damaged())
