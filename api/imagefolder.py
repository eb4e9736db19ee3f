"""ImageFolder datasets: a ``.zip`` with one folder per class of PNG/JPEG files, turned into an npz.

The archive is read in memory with ``zipfile`` (never extracted: no member name becomes a path) and
every limit is checked before a single image is decoded:

1. the zip's end record (before ``zipfile`` builds one object per member): at most ``MAX_FILES``
   members and ``MAX_DIRECTORY_BYTES`` of central directory;
2. every member's name and kind from the directory: no absolute or ``..`` paths, backslashes or drive
   letters, no symlinks (Unix mode bits in ``external_attr``), no encryption, stored or deflate only,
   no nested archives, only ``.png``/``.jpg``/``.jpeg`` files (``__MACOSX/``, ``.DS_Store`` and
   ``Thumbs.db``, which zip tools add on their own, are skipped), laid out ``class/image`` or
   ``top/class/image``;
3. the declared uncompressed sizes: at most ``MAX_UNCOMPRESSED_BYTES`` in all, and no member over
   1 MiB that inflates more than ``MAX_RATIO`` times (a zip bomb; ``zipfile`` never inflates past a
   member's declared size, and a member that does not inflate to it fails its CRC);
4. every image's header, read with Pillow's lazy ``Image.open`` (PNG and JPEG decoders only):
   width and height at most ``MAX_SIDE`` (so ``MAX_SIDE``² pixels; ``Image.MAX_IMAGE_PIXELS`` is
   lowered to that, so Pillow refuses a larger one itself), one size for all images, 8-bit modes;
   and N × H × W × C against ``MAX_DECODED_BYTES``.

Only then is each image decoded (one at a time) and its pixels written straight into the ``images``
member of the npz being built; labels follow the sorted folder names, which become ``class_names``.
Images of different sizes are refused, not resized: resizing would silently change the data, and the
caller knows best how to crop or pad theirs. Every refusal is a 4xx that names the member and says
what to do.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from core.errors import (
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    reported_as_invalid,
)
from core.limits import MAX_CLASS_NAME_LENGTH, MAX_CLASSES, MAX_DATASET_IMAGES, MAX_SIDE

MAX_FILES = 100_000
MAX_DIRECTORY_BYTES = 16 * 1024**2
MAX_UNCOMPRESSED_BYTES = 512 * 1024**2  # the image files, as the zip directory declares them
MAX_DECODED_BYTES = 512 * 1024**2  # N × H × W × C of the decoded images
MAX_RATIO = 200  # a PNG or JPEG hardly deflates further; a member inflating 200× is a bomb
MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_PIL_FORMATS = ["PNG", "JPEG"]
_SKIPPED_NAMES = (".DS_Store", "Thumbs.db")
_ARCHIVE_SUFFIXES = (".zip", ".npz", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst")
_GRAY_MODES = ("1", "L", "LA")
_COLOR_MODES = ("P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")

HINT = (
    "zip a folder with one sub-folder per class holding PNG or JPEG files of one size "
    "(`cd data && zip -r ../dataset.zip .`, or `reassembly datasets add DIR`) and upload the whole file"
)


@dataclass(frozen=True)
class _Image:
    info: zipfile.ZipInfo
    label: int


def looks_like_imagefolder(fp: IO[bytes]) -> bool:
    """Whether a zip upload is to be read as an ImageFolder rather than an npz: an npz holds ``.npy``
    members only. Too large a directory counts as an ImageFolder (whose reader refuses it with its
    limits); anything unreadable is left to the npz reader, which says what is wrong. ``fp`` is
    rewound."""
    try:
        entries, cd_bytes = _end_record(fp)
        if entries > 64 or cd_bytes > 64 * 1024:
            return True
        fp.seek(0)
        with zipfile.ZipFile(fp) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
        return not names or not all(n.endswith(".npy") for n in names)
    except Exception:  # not ours to judge: the npz reader explains a corrupt archive
        return False
    finally:
        fp.seek(0)


def imagefolder_to_npz(fp: IO[bytes]) -> io.BytesIO:
    """The npz (``images`` uint8 N×H×W or N×H×W×3, ``labels`` int64 N, ``class_names``) of an
    ImageFolder zip, or a 4xx ``ReassemblyError`` saying which member is wrong and why."""
    with reported_as_invalid("the ImageFolder .zip could not be read", HINT):
        return _to_npz(fp)


def _end_record(fp: IO[bytes]) -> tuple[int, int]:
    fp.seek(0)
    end = zipfile._EndRecData(fp)  # type: ignore[attr-defined]  # the reader ZipFile itself uses
    if not end:
        raise InvalidInput(f"the upload is not a readable zip archive (no end record); {HINT}")
    return int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])  # type: ignore[attr-defined]


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB"


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.split("/")
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or (len(name) > 1 and name[1] == ":")
        or any(p in ("..", ".") for p in parts)
        or "\x00" in name
    ):
        raise InvalidInput(
            f"member {name!r} has an absolute, '..' or otherwise unsafe path; member names must be "
            f"relative 'class/image.png' paths; {HINT}",
            details={"member": name, "reason": "unsafe_path"},
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidInput(
            f"member {name!r} is a symbolic link; links are not followed: zip the files themselves "
            "(`zip -r` without `--symlinks`)",
            details={"member": name, "reason": "symlink"},
        )
    kind = stat.S_IFMT(mode)  # 0 when the writer set no file type (Python's writestr, DOS/Windows tools)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise InvalidInput(
            f"member {name!r} is not a regular file (mode {oct(mode)}); {HINT}",
            details={"member": name, "reason": "special_file"},
        )
    if info.flag_bits & 0x1:
        raise InvalidInput(
            f"member {name!r} is encrypted; upload an archive without a password",
            details={"member": name, "reason": "encrypted"},
        )
    if not info.is_dir() and info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise InvalidInput(
            f"member {name!r} uses zip compression method {info.compress_type}; only stored and deflate "
            f"(what every zip tool writes by default) are read; {HINT}",
            details={"member": name, "reason": "compression_method"},
        )


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == "__MACOSX" or parts[-1] in _SKIPPED_NAMES


def _layout(files: list[zipfile.ZipInfo], dirs: list[str]) -> tuple[list[str], list[_Image]]:
    """Class names (sorted folder names) and the images in (class, file name) order."""
    split = [f.filename.split("/") for f in files]
    tops = {p[0] for p in split}
    strip = 1 if split and len(tops) == 1 and all(len(p) == 3 for p in split) else 0
    by_class: dict[str, list[zipfile.ZipInfo]] = {}
    for info, parts in zip(files, split, strict=True):
        rest = parts[strip:]
        if len(rest) != 2 or not rest[0]:
            raise InvalidInput(
                f"member {info.filename!r} is not inside exactly one class folder: images must be at "
                f"'class/image.png' (optionally all under one top folder, 'top/class/image.png'); {HINT}",
                details={"member": info.filename, "reason": "layout"},
            )
        by_class.setdefault(rest[0], []).append(info)
    # A class folder the zip lists without any image in it is an error (as in torchvision).
    listed = set()
    for d in dirs:
        parts = d.rstrip("/").split("/")
        if len(parts) == strip + 1 and (not strip or parts[0] in tops):
            listed.add(parts[strip])
    empty = sorted(listed - set(by_class))
    if empty:
        raise InvalidInput(
            f"class folder(s) {empty[:10]} hold no images; remove them or add images",
            details={"empty_classes": empty[:100]},
        )
    if not by_class:
        raise InvalidInput(f"the .zip holds no PNG or JPEG images; {HINT}", details={"reason": "no_images"})
    names = sorted(by_class)
    if len(names) > MAX_CLASSES:
        raise PayloadTooLarge(f"the .zip has {len(names)} class folders; at most {MAX_CLASSES} are accepted")
    long = [n for n in names if len(n) > MAX_CLASS_NAME_LENGTH]
    if long:
        raise InvalidInput(
            f"class folder name {long[0][:60]!r}… is longer than {MAX_CLASS_NAME_LENGTH} characters; "
            "rename the folder"
        )
    images = [
        _Image(info, label)
        for label, cls in enumerate(names)
        for info in sorted(by_class[cls], key=lambda i: i.filename)
    ]
    return names, images


def _members(zf: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[str]]:
    files: list[zipfile.ZipInfo] = []
    dirs: list[str] = []
    for info in zf.infolist():
        _check_name(info)
        if info.is_dir():
            if not _skipped(info.filename):
                dirs.append(info.filename)
            continue
        if _skipped(info.filename):
            continue
        low = info.filename.lower()
        if low.endswith(_ARCHIVE_SUFFIXES):
            raise UnsupportedMediaType(
                f"member {info.filename!r} is an archive; nested archives are not read: put the images "
                "themselves in the class folders",
                details={"member": info.filename, "reason": "nested_archive"},
            )
        if not low.endswith(IMAGE_SUFFIXES):
            raise UnsupportedMediaType(
                f"member {info.filename!r} is not a PNG or JPEG image (by its name); an ImageFolder .zip "
                f"holds only .png, .jpg and .jpeg files in class folders: remove the others",
                details={"member": info.filename, "reason": "not_an_image"},
            )
        files.append(info)
    return files, dirs


def _check_sizes(files: list[zipfile.ZipInfo]) -> None:
    total = sum(i.file_size for i in files)
    compressed = sum(i.compress_size for i in files)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise PayloadTooLarge(
            f"the .zip's images inflate to {_mib(total)} ({_mib(compressed)} compressed); at most "
            f"{_mib(MAX_UNCOMPRESSED_BYTES)} of image files are accepted: upload fewer or smaller images",
            details={"uncompressed_bytes": total, "compressed_bytes": compressed},
        )
    for info in files:
        if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise PayloadTooLarge(
                f"member {info.filename!r} inflates from {info.compress_size} to {info.file_size} bytes "
                f"(over {MAX_RATIO}×), which PNG and JPEG files never do: it looks like a decompression "
                "bomb; zip the image files as they are",
                details={
                    "member": info.filename,
                    "compressed_bytes": info.compress_size,
                    "uncompressed_bytes": info.file_size,
                    "reason": "compression_ratio",
                },
            )


def _open_image(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    """Pillow's lazy image of one member (header parsed, pixels not decoded), from the member's bytes
    (bounded by its declared size, itself bounded above)."""
    from PIL import Image, UnidentifiedImageError

    data = zf.read(info)
    try:
        im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except Image.DecompressionBombError as exc:
        raise PayloadTooLarge(
            f"member {info.filename!r} declares too many pixels for Pillow's decompression-bomb limit "
            f"({exc}); images may be at most {MAX_SIDE}×{MAX_SIDE}: downscale it",
            details={"member": info.filename, "reason": "too_many_pixels"},
        ) from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType(
            f"member {info.filename!r} is not a PNG or JPEG image (Pillow cannot identify it as either); "
            "save it as PNG or JPEG, or remove it",
            details={"member": info.filename, "reason": "not_an_image"},
        ) from exc
    width, height = im.size
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise PayloadTooLarge(
            f"member {info.filename!r} is {width}×{height} pixels; images may be at most "
            f"{MAX_SIDE}×{MAX_SIDE}: downscale it",
            details={"member": info.filename, "size": [width, height], "reason": "too_many_pixels"},
        )
    if im.mode not in _GRAY_MODES + _COLOR_MODES:
        raise InvalidInput(
            f"member {info.filename!r} has pixel mode {im.mode!r} (e.g. 16-bit or float); only 8-bit "
            "grayscale, palette and RGB(A) images are read: save it as 8-bit PNG or JPEG",
            details={"member": info.filename, "mode": im.mode, "reason": "pixel_mode"},
        )
    return im


def _to_npz(fp: IO[bytes]) -> io.BytesIO:
    import numpy as np
    from PIL import Image

    # Lower Pillow's own bomb limit to ours (never raise it): Image.open then refuses images over
    # twice MAX_IMAGE_PIXELS itself, and we refuse anything wider or higher than MAX_SIDE below.
    if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

    entries, cd_bytes = _end_record(fp)
    if entries > MAX_FILES or cd_bytes > MAX_DIRECTORY_BYTES:
        raise PayloadTooLarge(
            f"the .zip has {entries} members ({cd_bytes} bytes of directory); at most {MAX_FILES} files "
            "are accepted: upload fewer images",
            details={"members": entries, "directory_bytes": cd_bytes},
        )
    fp.seek(0)
    with zipfile.ZipFile(fp) as zf:
        files, dirs = _members(zf)
        _check_sizes(files)
        names, images = _layout(files, dirs)
        if len(images) > MAX_DATASET_IMAGES:
            raise PayloadTooLarge(f"the .zip holds {len(images)} images; at most {MAX_DATASET_IMAGES}")

        # Headers only: sizes and modes of every image, before any is decoded.
        size: tuple[int, int] | None = None
        gray = True
        sizes: dict[tuple[int, int], str] = {}
        for item in images:
            im = _open_image(zf, item.info)
            sizes.setdefault(im.size, item.info.filename)
            size = size or im.size
            gray = gray and im.mode in _GRAY_MODES
            im.close()
        if len(sizes) > 1:
            shown = {f"{w}×{h}": member for (w, h), member in list(sizes.items())[:5]}
            raise InvalidInput(
                f"the images are not all one size ({len(sizes)} sizes, e.g. {shown}); a dataset's images "
                "must share one size: resize or crop them to one size (e.g. with Pillow's "
                "`ImageOps.fit(im, (w, h))`) before zipping",
                details={"sizes": shown, "reason": "mixed_sizes"},
            )
        assert size is not None
        width, height = size
        shape: tuple[int, ...] = (len(images), height, width) if gray else (len(images), height, width, 3)
        decoded = int(np.prod(shape))
        if decoded > MAX_DECODED_BYTES:
            raise PayloadTooLarge(
                f"the images decode to {list(shape)} = {_mib(decoded)} of pixels; at most "
                f"{_mib(MAX_DECODED_BYTES)} are accepted from an ImageFolder: upload fewer or smaller "
                "images, or an .npz",
                details={"shape": list(shape), "decoded_bytes": decoded},
            )

        # Decode one image at a time, straight into the npz's images member.
        out = io.BytesIO()
        mode = "L" if gray else "RGB"
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as npz:
            with npz.open("images.npy", "w") as member:
                np.lib.format.write_array_header_1_0(
                    member, {"descr": np.dtype(np.uint8).str, "fortran_order": False, "shape": shape}
                )
                for item in images:
                    im = _open_image(zf, item.info)
                    try:
                        im.load()
                    except OSError as exc:
                        raise InvalidInput(
                            f"member {item.info.filename!r} could not be decoded ({exc}); it may be "
                            "truncated or corrupt: save it again",
                            details={"member": item.info.filename, "reason": "corrupt_image"},
                        ) from exc
                    if im.size != size:  # the header said otherwise a moment ago: a corrupt file
                        raise InvalidInput(f"member {item.info.filename!r} changed size while decoding")
                    pixels = np.asarray(im.convert(mode), dtype=np.uint8)
                    member.write(pixels.tobytes())
                    im.close()
            labels = np.array([item.label for item in images], dtype=np.int64)
            for key, array in (("labels", labels), ("class_names", np.array(names, dtype=str))):
                with npz.open(f"{key}.npy", "w") as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
    out.seek(0)
    return out
