"""The text layer of one PDF, read in a child process (support/documents/read.py runs this file by
its path): a hostile PDF (a decompression bomb, a page tree of millions, a parser loop) costs that
child its memory or its time limit, never the worker. Imports nothing but the standard library
and pypdf, so the child starts in a fraction of a second.

Usage: python pdf_child.py PATH MAX_PAGES MAX_CHARS MAX_MEMORY_BYTES [MAX_CPU_SECONDS PARENT_PID];
prints one JSON object: {"ok": true, "text", "pages"} or {"ok": false, "error", "pages"?}, and
nothing else: pypdf's warnings are switched off (one hostile page made it log 8 kB per content
operator, hundreds of megabytes the worker had to hold)."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from typing import Any


def _limit_memory(max_bytes: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit still holds
        pass


def _limit_cpu(seconds: int) -> None:
    """The time limit holds without the parent: the worker waits DOCUMENT_READ_SECONDS and then
    kills this process, but a worker that died first (SIGKILL, OOM) left it spinning."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    except (ImportError, ValueError, OSError):
        pass


def _die_with(parent: int) -> None:
    """Linux: killed when the worker that started it dies (PR_SET_PDEATHSIG), unless it died
    already (then our parent is no longer it)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def read(path: str, max_pages: int, max_chars: int) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                # Many "protected" PDFs open without a password (an owner password only).
                unlocked = bool(reader.decrypt(""))
            except Exception:
                unlocked = False
            if not unlocked:
                return {"ok": False, "error": "encrypted: a password is needed"}
        pages = len(reader.pages)
        if pages > max_pages:
            return {
                "ok": False,
                "error": f"{pages} pages, more than DOCUMENT_MAX_PAGES ({max_pages})",
                "pages": pages,
            }
        texts: list[str] = []
        length = 0
        for page in reader.pages:
            # extract_text() reads a stream over pypdf's limits as empty: decoding the content
            # first tells a decompression bomb from a page without text.
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
            text = page.extract_text() or ""
            texts.append(text)
            length += len(text)
            if length >= max_chars:
                break
    except LimitReachedError:
        return {"ok": False, "error": "a stream too large when decompressed"}
    except MemoryError:
        return {"ok": False, "error": "too large to read (memory limit)"}
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        return {"ok": False, "error": f"not a readable PDF: {type(exc).__name__}"}
    text = storable("\n".join(texts))[:max_chars]
    return {"ok": True, "text": text, "pages": pages}


def storable(text: str) -> str:
    """Text PostgreSQL can store: pypdf decodes ToUnicode maps with surrogatepass, so a crafted
    PDF yields lone surrogates (not encodable in UTF-8), and NUL is refused in a text column.
    (read.py's own storable does the same; this file imports nothing of ours.)"""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def main(argv: list[str]) -> int:
    path, max_pages, max_chars, max_memory = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    if len(argv) > 6:
        _die_with(int(argv[6]))
    _limit_memory(max_memory)
    if len(argv) > 5:
        _limit_cpu(int(argv[5]))
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    try:
        result = read(path, max_pages, max_chars)
    except MemoryError:
        result = {"ok": False, "error": "too large to read (memory limit)"}
    except Exception as exc:  # whatever else a broken file makes pypdf raise
        result = {"ok": False, "error": f"not a readable PDF: {type(exc).__name__}"}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
