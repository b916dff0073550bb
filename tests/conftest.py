"""Shared fixtures: a tiny random model directory and the project's composed config."""

from __future__ import annotations

import pytest

from tests.tiny import tiny_model_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of a tiny random Llama checkpoint + tokenizer (the stand-in for data/base_model)."""
    return tiny_model_dir(tmp_path_factory.mktemp("tiny_model"))


# Tests over ~3 s on our 2-core machine (`pytest --durations=60`, 2026-11-30), kept out of the
# fast lane `pytest -m "not slow"`; `integration` tests are slow too. Listed here by file and
# function (parameters included) rather than decorated in each file, so one place says what the
# fast lane leaves out; a test file of one's own may also use `@pytest.mark.slow`.
SLOW = {
    "test_train.py": {"test_outputs_checkpoints_and_budget", "test_same_seed_same_adapter",
                      "test_lora_weights_change_and_base_weights_do_not",
                      "test_loss_falls_on_a_repeated_batch",
                      "test_killed_run_resumes_to_the_same_adapter",
                      "test_a_changed_curriculum_does_not_resume_stale_state",
                      "test_changed_training_code_does_not_resume_stale_state",
                      "test_new_base_weights_of_the_same_shapes_do_not_resume",
                      "test_resume_says_so"},
    "test_prepare.py": {"test_real_sample_about_a_hundred_articles",
                        "test_every_corpus_config_composes_with_documented_knobs",
                        "test_command_line_failure_is_one_error_line_and_exit_1"},
    "test_evaluate.py": {"test_last_only_scores_the_final_checkpoint_from_the_command_line"},
    "test_generate.py": {"test_shared_prefixes_give_the_unshared_answers"},
    "test_rewrite_stage.py": {"test_two_processes_give_the_same_bytes",
                              "test_same_seed_same_bytes"},
    "test_attention.py": {"test_loss_and_gradients_match_the_masked_sdpa_row"},
    "test_packed_linear.py": {"test_generation_packs_bfloat16_weights_and_answers_alike"},
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = getattr(item, "originalname", None) or item.name
        if item.get_closest_marker("integration") or name in SLOW.get(item.path.name, ()):
            item.add_marker(pytest.mark.slow)
