"""Shared fixtures: tiny random-weight checkpoints built once per test session."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Random BERT (absolute positions: exercises position ids under left padding)."""
    from tests.fixtures.tiny import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("tiny_bert")), arch="bert")


@pytest.fixture(scope="session")
def sharp_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Random BERT with peaked predictions, so threshold/factor commit several tokens per step."""
    from tests.fixtures.tiny import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("sharp_bert")), arch="bert", init_std=1.0, seed=1)


@pytest.fixture(scope="session")
def tiny_modernbert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Random ModernBERT (rotary positions)."""
    from tests.fixtures.tiny import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("tiny_modernbert")), arch="modernbert", init_std=0.5)


def _family_checkpoint(family: str):
    """A session fixture ``tiny_<family>``: the random checkpoint ``families/fixtures.py`` builds with
    that family's config fields and weight names (LLaDA, Dream, SDAR, LLaDA 2.x)."""

    @pytest.fixture(scope="session", name=f"tiny_{family}")
    def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
        from tests.fixtures import families as fixtures

        return getattr(fixtures, f"build_tiny_{family}")(str(tmp_path_factory.mktemp(f"tiny_{family}")))

    return checkpoint


tiny_llada, tiny_dream, tiny_sdar, tiny_llada2 = (_family_checkpoint(f) for f in ("llada", "dream", "sdar", "llada2"))
