"""Shared fixtures: a tiny random model directory and the project's composed config."""

from __future__ import annotations

import pytest

from tests.tiny import tiny_model_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a tiny random Llama checkpoint + tokenizer (the stand-in for data/base_model)."""
    return tiny_model_dir(tmp_path_factory.mktemp("tiny_model"))
