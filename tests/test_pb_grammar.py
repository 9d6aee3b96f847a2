"""Grammar score: both backends, caching, settings, and loud failures."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lm_eval_mdlm.metrics import grammar
from lm_eval_mdlm.metrics.grammar import GrammarBackendError, GrammarChecker

# The paper's failure cases (appendix H) and their correct counterparts.
BAD = ["What strategies can I use to handle an disrespectful student?",
       "The elephant walked across the the old bridge, looking carrying an open ball."]
GOOD = ["What strategies can I use to handle a disrespectful student?",
        "I love to throw the ball for my dog at the park."]


@pytest.fixture(scope="module")
def harper_checker():
    pytest.importorskip("harper", reason="harper-py is an optional dependency (extra 'parallelbench')")
    return GrammarChecker("harper")


def test_harper_flags_the_paper_failure_sentences(harper_checker):
    assert [harper_checker.score(t) for t in BAD] == [0.0, 0.0]
    assert [harper_checker.score(t) for t in GOOD] == [1.0, 1.0]
    assert harper_checker.description.startswith("harper-py")


def test_empty_answer_fails_without_asking_the_backend(harper_checker):
    calls = harper_checker.backend_calls
    assert harper_checker.score("") == 0.0
    assert harper_checker.score("  \n") == 0.0
    assert harper_checker.backend_calls == calls


def test_each_distinct_text_is_checked_once():
    pytest.importorskip("harper", reason="harper-py is an optional dependency (extra 'parallelbench')")
    checker = GrammarChecker("harper")
    for _ in range(3):
        checker.score(BAD[0])
        checker.score(" " + BAD[0] + "\n")  # same text once stripped
        checker.score(GOOD[0])
    assert checker.backend_calls == 2


def test_settings_come_from_metadata_then_environment(monkeypatch):
    monkeypatch.delenv(grammar.ENV_BACKEND, raising=False)
    monkeypatch.delenv(grammar.ENV_LANGUAGETOOL_URL, raising=False)
    assert grammar.resolve_settings({}) == ("languagetool", None)
    monkeypatch.setenv(grammar.ENV_BACKEND, "harper")
    assert grammar.resolve_settings({}) == ("harper", None)
    assert grammar.resolve_settings({"grammar_backend": "LanguageTool", "languagetool_url": "http://x"}) == \
        ("languagetool", "http://x")
    with pytest.raises(GrammarBackendError, match="'spacy' is unknown; valid values: languagetool, harper"):
        grammar.resolve_settings({"grammar_backend": "spacy"})
    with pytest.raises(GrammarBackendError, match="languagetool_url"):
        grammar.resolve_settings({"grammar_backend": "harper", "languagetool_url": "http://x"})


class _FakeLanguageTool(BaseHTTPRequestHandler):
    """Speaks the part of LanguageTool's HTTP API that language-tool-python uses."""

    checked: list[dict[str, str]] = []
    fail_checks = False

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/v2/languages"):
            self._reply(200, [{"name": "English (US)", "code": "en", "longCode": "en-US"}])
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self):
        if not self.path.startswith("/v2/check"):
            return self._reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        type(self).checked.append(form)
        if type(self).fail_checks:
            return self._reply(500, b"internal error")
        text, matches = form["text"], []
        for bad in ("an disrespectful", "the the"):
            at = text.find(bad)
            if at >= 0:
                matches.append({"message": f"Possible error: {bad}", "shortMessage": "", "offset": at,
                                "length": len(bad), "replacements": [{"value": bad.split()[-1]}],
                                "context": {"text": text, "offset": at, "length": len(bad)}, "sentence": text,
                                "rule": {"id": "FAKE_RULE", "description": "fake", "issueType": "grammar",
                                         "category": {"id": "GRAMMAR", "name": "Grammar"}}})
        self._reply(200, {"software": {"name": "FakeLanguageTool"}, "matches": matches})


@pytest.fixture
def languagetool_server():
    pytest.importorskip("language_tool_python", reason="language-tool-python is an optional dependency")
    _FakeLanguageTool.checked = []
    _FakeLanguageTool.fail_checks = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLanguageTool)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_languagetool_backend_against_an_http_server(languagetool_server):
    checker = GrammarChecker("languagetool", languagetool_url=languagetool_server)
    assert [checker.score(t) for t in BAD + GOOD] == [0.0, 0.0, 1.0, 1.0]
    checker.score(BAD[0])  # cached: no new request
    assert len(_FakeLanguageTool.checked) == 4
    assert {form["language"] for form in _FakeLanguageTool.checked} == {"en-US"}
    assert languagetool_server in checker.description


def test_languagetool_failure_during_a_check_is_an_error_not_a_zero(languagetool_server):
    checker = GrammarChecker("languagetool", languagetool_url=languagetool_server)
    _FakeLanguageTool.fail_checks = True
    with pytest.raises(GrammarBackendError, match="failed to check a text"):
        checker.score("A perfectly fine sentence.")


def test_unreachable_languagetool_is_a_clear_error():
    pytest.importorskip("language_tool_python", reason="language-tool-python is an optional dependency")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GrammarBackendError, match="could not start.*grammar_backend=harper"):
        GrammarChecker("languagetool", languagetool_url=f"http://127.0.0.1:{port}")
