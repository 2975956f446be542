"""The photo archive of an export: the original files, one folder per case code, streamed from the media
store into ZIP parts that each stay under the channel's file limit, and a manifest (CSV: part, case, file,
SHA-256, size, dimensions, date taken) computed from the bytes as they are written."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ExifTags, Image

from common.messages import t
from storage.exports import ExportRow

CHUNK = 1 << 20
ENTRY_OVERHEAD = 200  # local header, central directory entry and the name, generously
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MANIFEST = "manifest.csv"


@dataclass
class Missing:
    code: str
    sha256: str


@dataclass
class PhotoArchive:
    folder: Path
    stem: str  # "anh-ho-so"
    limit: int  # bytes per part
    path_of: Callable[[str], Path]  # where the media store keeps a photo
    parts: list[Path] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    photos: int = 0

    def __post_init__(self) -> None:
        self._zip: zipfile.ZipFile | None = None
        self._size = 0
        self._manifest_path = self.folder / f".{self.stem}-{MANIFEST}"
        self._manifest_file = open(self._manifest_path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
        self._manifest = csv.writer(self._manifest_file)
        self._manifest.writerow([t(f"export.manifest.{k}") for k in
                                 ("part", "case", "file", "sha256", "size", "dimensions", "taken")])

    def add(self, row: ExportRow) -> None:
        for number, photo in enumerate(row.photos, start=1):
            source = self.path_of(photo.sha256)
            if not source.is_file():
                self.missing.append(Missing(row.case.code, photo.sha256))
                continue
            name = f"{row.case.code}/{number:02d}.{EXTENSIONS.get(photo.mime_type, 'bin')}"
            size = source.stat().st_size
            self._room_for(size + ENTRY_OVERHEAD + len(name))
            digest = self._copy(source, name)
            self._size += size + ENTRY_OVERHEAD + len(name)
            self.photos += 1
            self._manifest.writerow([len(self.parts), row.case.code, name, digest, size, *_described(source)])

    def _room_for(self, size: int) -> None:
        if self._zip is None or (self._size + size > self.limit and self._size > 0):
            self._next_part()

    def _next_part(self) -> None:
        if self._zip is not None:
            self._zip.close()
        path = self.folder / f"{self.stem}-{len(self.parts) + 1}.zip"
        self.parts.append(path)
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._size = 22  # the end of central directory record

    def _copy(self, source: Path, name: str) -> str:
        """Stream the file into the archive (photos are compressed already: stored, not deflated)."""
        digest = hashlib.sha256()
        with open(source, "rb") as data, self._zip.open(name, "w", force_zip64=False) as out:
            while chunk := data.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        return digest.hexdigest()

    def close(self) -> list[Path]:
        """The parts, named without a number when there is only one; none when there was no photo at all."""
        self._manifest_file.close()
        if self.photos == 0:
            self._manifest_path.unlink(missing_ok=True)
            if self._zip is not None:
                self._zip.close()
            for part in self.parts:
                part.unlink(missing_ok=True)
            self.parts.clear()
            return []
        self._room_for(self._manifest_path.stat().st_size + ENTRY_OVERHEAD)
        self._zip.write(self._manifest_path, MANIFEST)
        self._zip.close()
        self._manifest_path.unlink()
        if len(self.parts) == 1:
            single = self.folder / f"{self.stem}.zip"
            self.parts[0].rename(single)
            self.parts[0] = single
        return self.parts


def _described(source: Path) -> tuple[str, str]:
    """(width×height, the date the photo was taken if it carries one), from its header only."""
    try:
        with Image.open(source) as image:
            exif = image.getexif()
            taken = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
                ExifTags.Base.DateTime) or ""
            return f"{image.width}x{image.height}", str(taken)
    except (OSError, ValueError, Image.DecompressionBombError):
        return "", ""
