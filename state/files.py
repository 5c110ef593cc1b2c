"""mlreg's own files (the local state, its history and lock, saved plans, imported files), written
so that a pull request cannot redirect them: a committed symbolic link (`.mlreg/history.jsonl` ->
anywhere) is refused, not followed, and a path the file names (`state.path`) stays inside the
configuration's folder unless the environment says otherwise (MLREG_FILES_OUTSIDE=1).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from mlreg.planner.errors import UserError

OUTSIDE = "MLREG_FILES_OUTSIDE"


def contained(base: str | Path, path: str | Path, what: str) -> Path:
    """`path` (relative to `base`) as an absolute path, refused when it leaves `base`."""
    base = Path(base).resolve()
    target = Path(path) if Path(path).is_absolute() else base / path
    normal = Path(os.path.normpath(target))
    if os.environ.get(OUTSIDE) != "1" and not normal.is_relative_to(base):
        raise UserError(
            f"{what} {path} is outside the configuration's folder {base}; set {OUTSIDE}=1 in the "
            "environment to allow it"
        )
    return normal


def within(bases: list[str | Path], path: str | Path, what: str) -> tuple[Path, Path]:
    """`path` (relative to the working directory) and the first of `bases` it lies under; refused
    when it lies under none (unless MLREG_FILES_OUTSIDE=1: then its own folder is its base)."""
    target = Path(os.path.normpath(Path(path).absolute()))
    for base in bases:
        b = Path(base).resolve()
        if target.is_relative_to(b):
            return target, b
    if os.environ.get(OUTSIDE) == "1":
        return target, target.parent
    shown = " or ".join(str(Path(b).resolve()) for b in bases)
    raise UserError(f"{what} {path} is outside {shown}; set {OUTSIDE}=1 in the environment to allow it")


def refuse_links(path: Path, base: Path | None = None) -> None:
    """Refuse `path` if it, or any folder between `base` and it, is a symbolic link (without a
    base: `path` itself and its folder). Folders above the base are the machine's business."""
    path = Path(os.path.abspath(path))
    stop = Path(os.path.abspath(base)) if base is not None else None
    current = path
    while True:
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                raise UserError(
                    f"{current} is a symbolic link; mlreg does not write through links (a link committed "
                    "to a repository could send its files anywhere): remove it"
                )
        except FileNotFoundError:
            pass
        if current == stop or current.parent == current or (stop is None and current != path):
            return
        current = current.parent


def write_atomic(path: Path, text: str, base: Path | None = None, mode: int | None = None) -> None:
    """Replace `path` with `text` at once (a temporary file renamed over it). Private (0600)
    unless `mode` says otherwise (files meant to be committed: 0644)."""
    refuse_links(path, base)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_links(path, base)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append(path: Path, text: str, base: Path | None = None) -> None:
    """Append to `path`, never through a link."""
    refuse_links(path.parent, base)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        if os.path.islink(path):
            refuse_links(path, base)
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    with os.fdopen(fd, "a") as f:
        f.write(text)


# State, history and journal files are mlreg's own; far past this, one is not (a device, a trap)
MAX_STATE_BYTES = 2 * 1024 * 1024 * 1024


def open_own(path: Path, base: Path | None = None):
    """One of mlreg's own files, opened for reading in binary: never through a link, in it or in
    any folder between `base` and it (a link committed to a repository could point anywhere,
    /dev/zero included), only if it is a regular file of at most MAX_STATE_BYTES.
    FileNotFoundError when it does not exist."""
    refuse_links(path, base)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise
        if os.path.islink(path):
            refuse_links(path)
        raise
    f = os.fdopen(fd, "rb")
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STATE_BYTES:
        f.close()
        raise UserError(f"{path} is not a file mlreg wrote (not a regular file, or over 2 GiB)")
    return f


def read_text(path: Path, base: Path | None = None) -> str:
    """`open_own`, read whole."""
    with open_own(path, base) as f:
        return f.read(MAX_STATE_BYTES + 1).decode("utf-8")
