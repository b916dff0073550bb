"""How a record becomes model input: one place, shared by curate (token counts), train and evaluate.

Instruction formats become a chat turn (the model's chat template), with the loss on the answer
tokens only; `raw` is plain language modelling on the text. The extractive-QA prompt is the
exact prompt the evaluate stage asks held-out questions with.
"""

from __future__ import annotations

import json

from joule.records import CLOZE_MASK, format_name

OPTION_LETTERS = "ABCD"


def extractive_qa_prompt(context: str, question: str) -> str:
    """The open-book prompt, used for training records and held-out questions alike."""
    return ("Answer the question with a short span copied from the passage.\n\n"
            f"Passage: {context}\n\nQuestion: {question}")


def closed_book_prompt(question: str) -> str:
    """The closed-book prompt (no passage), for training records and the closed-book eval."""
    return f"Answer the question in a few words.\n\nQuestion: {question}"


def _options(record: dict) -> list[str]:
    options = record["options"]
    return json.loads(options) if isinstance(options, str) else list(options)


def prompt_and_answer(record: dict) -> tuple[str, str] | None:
    """(user prompt, assistant answer) of an instruction record; None for plain-text records."""
    name = format_name(record["format"])
    if name == "qa_extractive":
        return extractive_qa_prompt(record["context"], record["question"]), record["answer"]
    if name == "qa_closed_book":
        return closed_book_prompt(record["question"]), record["answer"]
    if name == "cloze":
        return (f"Fill in the blank ({CLOZE_MASK}) with the missing words.\n\n{record['cloze']}",
                record["answer"])
    if name == "multiple_choice":
        options = _options(record)
        lines = [f"{OPTION_LETTERS[i]}. {opt}" for i, opt in enumerate(options)]
        prompt = (f"{record['question']}\n\n" + "\n".join(lines)
                  + "\n\nAnswer with the letter of the right option.")
        i = int(record["answer_index"])
        return prompt, f"{OPTION_LETTERS[i]}. {options[i]}"
    if name == "key_facts":
        facts = record["facts"]
        facts = json.loads(facts) if isinstance(facts, str) else list(facts)
        return f"Key facts about {record['title']}", "\n".join(f"- {f}" for f in facts)
    if name in ("raw", "paraphrase"):   # plain language modelling on the text
        return None
    raise ValueError(f"no formatting rule for format {record['format']!r}")


def chat_prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids of a user turn followed by the assistant header (what generation starts from)."""
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=True,
                                         add_generation_prompt=True, return_dict=False)


def tokenize_record(record: dict, tokenizer) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one record; labels are -100 where no loss is taken.

    Chat records: the prompt part is masked, the answer and its end-of-turn token are learned.
    Raw records: every token is learned (BOS/EOS added where the tokenizer has them).
    """
    pair = prompt_and_answer(record)
    if pair is None:
        ids = tokenizer(record["text"], add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids = ids + [tokenizer.eos_token_id]
        return ids, list(ids)
    prompt, answer = pair
    prompt_ids = chat_prompt_ids(tokenizer, prompt)
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
        tokenize=True, add_generation_prompt=False, return_dict=False)
    if full[: len(prompt_ids)] != prompt_ids:
        raise ValueError("chat template does not extend the prompt with the answer; cannot mask")
    # Keep the assistant turn's end-of-turn token (so the model learns to stop) and drop what the
    # template appends after it (a newline), which would teach nothing.
    eos = tokenizer.eos_token_id
    if eos is not None and eos in full[len(prompt_ids):]:
        full = full[: len(full) - full[::-1].index(eos)]
    labels = [-100] * len(prompt_ids) + full[len(prompt_ids):]
    return list(full), labels


def record_tokens(record: dict, tokenizer) -> int:
    """Training tokens one record costs (prompt + answer): the unit of every token budget."""
    return len(tokenize_record(record, tokenizer)[0])
