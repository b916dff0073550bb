"""Energy of generation done elsewhere: a remote server's joules cannot be read from here (nor
those of answers a local backend generated before costs were stored in the request cache).

Estimated from tokens: prompt_tokens * J/prompt token + generated_tokens * J/generated token,
with the figures and their source (config keys `rewrite_llm.backend.energy.*`) in the metrics,
labelled `estimated:tokens`. Never zero: a server run with no per-token figure is an error.
"""

from __future__ import annotations

from joule.errors import JouleError


def token_estimate(prompt_tokens: int, generated_tokens: int, cfg,
                   what: str = "a remote server") -> dict:
    """{energy_j, energy_source, joules_per_prompt_token, joules_per_generated_token, source}.

    `what` names what is estimated, for the error when a figure is missing."""
    j_prompt = cfg.get("joules_per_prompt_token")
    j_gen = cfg.get("joules_per_generated_token")
    source = cfg.get("source")
    if not j_gen or j_prompt is None or not source:
        raise JouleError("config keys rewrite_llm.backend.energy.joules_per_generated_token, "
                         f"joules_per_prompt_token and source must be set for {what} "
                         "(its energy is estimated from tokens, never counted as zero)")
    energy = prompt_tokens * float(j_prompt) + generated_tokens * float(j_gen)
    return {"energy_j": round(energy, 3), "energy_source": "estimated:tokens",
            "joules_per_prompt_token": float(j_prompt),
            "joules_per_generated_token": float(j_gen), "source": str(source),
            "prompt_tokens": int(prompt_tokens), "generated_tokens": int(generated_tokens)}
