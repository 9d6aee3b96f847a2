"""The grammar score of ParallelBench's Text Writing tasks, with two interchangeable checkers.

Definition (paper §5 "Evaluation Metrics"): grammar = 1 if the checker reports no issue for the
answer, else 0; an empty answer scores 0 without being checked (as the official scorer). The paper
uses LanguageTool through ``language-tool-python`` (Morris, 2025) with ``en-US``; every reported
match counts, spelling included, exactly as the official ``grammar_check``.

Backends (``grammar_backend``):

* ``languagetool``: ``language-tool-python``, either a local LanguageTool (needs Java >= 17; the
  package downloads LanguageTool on first use) or, with ``languagetool_url``, any server speaking
  LanguageTool's HTTP API (``/v2/languages``, ``/v2/check``).
* ``harper``: ``harper-py``, Automattic's Harper checker compiled into the wheel: offline, no Java,
  no server. Its rules differ from LanguageTool's, so scores are comparable only within a backend;
  the results record which backend produced them.

A backend that cannot run is an error (:class:`GrammarBackendError`) raised when the checker is
built or used, never a silent score of 0. Verdicts are cached per text, so each distinct answer is
sent to the backend once per process.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from typing import Any

BACKENDS = ("languagetool", "harper")
DEFAULT_BACKEND = "languagetool"
LANGUAGE = "en-US"
ENV_BACKEND = "PARALLELBENCH_GRAMMAR_BACKEND"
ENV_LANGUAGETOOL_URL = "PARALLELBENCH_LANGUAGETOOL_URL"
_EXTRA_HINT = "pip install 'lm-eval-mdlm[parallelbench]'"
_HOW_TO_SET = ("--metadata '{\"grammar_backend\": \"harper\"}', or --metadata "
               "'{\"languagetool_url\": \"http://host:8081\"}'; or $" + ENV_BACKEND + " / $" + ENV_LANGUAGETOOL_URL)


class GrammarBackendError(RuntimeError):
    """The chosen grammar checker cannot run; the message says why and how to fix it."""


def resolve_settings(metadata: Mapping[str, Any] | None = None) -> tuple[str, str | None]:
    """(backend, languagetool_url) from task metadata (``--metadata``), else the environment, else defaults.

    Why both: ``--metadata '{"grammar_backend": "harper"}'`` is lm-eval's way to configure a task from
    the command line; the environment variables serve the Python API and scripts.
    """
    metadata = metadata or {}
    backend = str(metadata.get("grammar_backend") or os.environ.get(ENV_BACKEND) or DEFAULT_BACKEND).strip().lower()
    if backend not in BACKENDS:
        raise GrammarBackendError(f"grammar_backend={backend!r} is unknown; valid values: {', '.join(BACKENDS)} "
                                  f"(set it with {_HOW_TO_SET}).")
    url = metadata.get("languagetool_url") or os.environ.get(ENV_LANGUAGETOOL_URL) or None
    if url is not None and backend != "languagetool":
        raise GrammarBackendError(f"languagetool_url={url!r} is set but grammar_backend={backend!r}; "
                                  "drop the URL or choose grammar_backend=languagetool.")
    return backend, url


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _harper() -> tuple[Callable[[str], int], str]:
    try:
        import harper
    except ImportError as exc:
        raise GrammarBackendError(f"grammar_backend=harper needs the harper-py package: {_EXTRA_HINT} "
                                  "(or pip install harper-py).") from exc
    try:
        linter = harper.Linter(harper.Dialect.AMERICAN)
    except Exception as exc:  # noqa: BLE001 - reported with the cause
        raise GrammarBackendError(f"harper-py could not build its linter: {exc}") from exc

    def count(text: str) -> int:
        return len(linter.lint(text, language=harper.Language.PLAINTEXT))

    return count, f"harper-py {_version('harper-py')} ({LANGUAGE})"


def _languagetool(url: str | None) -> tuple[Callable[[str], int], str]:
    try:
        import language_tool_python
    except ImportError as exc:
        raise GrammarBackendError(f"grammar_backend=languagetool needs language-tool-python: {_EXTRA_HINT} "
                                  "(or pip install language-tool-python), or use grammar_backend=harper.") from exc
    where = f"server {url}" if url else "local LanguageTool"
    try:
        if url:
            tool = language_tool_python.LanguageTool(LANGUAGE, remote_server=url)
        else:  # the official settings (ParallelBench utils/grammar_check.py)
            tool = language_tool_python.LanguageTool(
                LANGUAGE, config={"maxCheckThreads": 1, "maxSpellingSuggestions": 1})
    except Exception as exc:  # noqa: BLE001 - reported with the cause
        fix = ("check that the server is running and speaks LanguageTool's /v2 API" if url else
               "a local LanguageTool needs Java >= 17 and downloads LanguageTool on first use; offline, set "
               "languagetool_url to a running LanguageTool server")
        raise GrammarBackendError(f"grammar_backend=languagetool could not start ({where}): "
                                  f"{type(exc).__name__}: {exc}. Fix: {fix}, or use grammar_backend=harper "
                                  f"(lm_eval ... {_HOW_TO_SET}).") from exc

    def count(text: str) -> int:
        try:
            return len(tool.check(text))
        except Exception as exc:  # noqa: BLE001 - a failed check must not become a score
            raise GrammarBackendError(f"LanguageTool ({where}) failed to check a text: "
                                      f"{type(exc).__name__}: {exc}") from exc

    return count, f"language-tool-python {_version('language-tool-python')}, {where} ({LANGUAGE})"


class GrammarChecker:
    """Grammar verdicts from one backend, each distinct text checked once."""

    def __init__(self, backend: str = DEFAULT_BACKEND, languagetool_url: str | None = None) -> None:
        backend, languagetool_url = resolve_settings({"grammar_backend": backend,
                                                      "languagetool_url": languagetool_url})
        self.backend = backend
        self.languagetool_url = languagetool_url
        self._count, self.description = _harper() if backend == "harper" else _languagetool(languagetool_url)
        self._cache: dict[str, int] = {}
        self.backend_calls = 0

    def issues(self, text: str) -> int:
        """How many issues the backend reports for ``text`` (stripped); cached."""
        text = text.strip()
        if text not in self._cache:
            self.backend_calls += 1
            self._cache[text] = self._count(text)
        return self._cache[text]

    def score(self, text: str) -> float:
        """1.0 if ``text`` is non-empty and has no issue, else 0.0."""
        if not text.strip():
            return 0.0
        return float(self.issues(text) == 0)


@functools.cache
def get_checker(backend: str, languagetool_url: str | None = None) -> GrammarChecker:
    """One shared checker per setting: building one is slow (a dictionary, a JVM or a connection)."""
    return GrammarChecker(backend, languagetool_url)


def grammar_score(text: str, backend: str = DEFAULT_BACKEND, languagetool_url: str | None = None) -> float:
    """The grammar score of one text with the shared checker of that setting."""
    return get_checker(backend, languagetool_url).score(text)
