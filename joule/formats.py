"""How a record becomes model input: one place, shared by curate (token counts), train and evaluate.

Instruction formats become a chat turn (the model's chat template), with the loss on the answer
tokens only; `qa_passage` (one passage, several questions) becomes a conversation, one turn per
question, with the loss on every answer; `raw` is plain language modelling on the text. The
extractive-QA prompt is the exact prompt the evaluate stage asks held-out questions with (and the
first turn of a `qa_passage` record).
"""

from __future__ import annotations

import json

from joule.records import CLOZE_MASK, EXTRACTIVE_FORMATS, format_name

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


def _list(value) -> list:
    return json.loads(value) if isinstance(value, str) else list(value)


def chat_turns(record: dict) -> list[tuple[str, str]] | None:
    """(user prompt, assistant answer) per turn of an instruction record; None for plain text.

    `qa_passage`: the first turn is the extractive-QA prompt (passage + first question), each
    later turn only "Question: ..." (the passage is read once, in the conversation's context).
    Every other instruction format is one turn (`prompt_and_answer`).
    Raises ValueError for a format without a rule or a qa_passage record with no question or
    unequal question and answer lists.
    """
    if format_name(record["format"]) != "qa_passage":
        pair = prompt_and_answer(record)
        return None if pair is None else [pair]
    questions, answers = _list(record["questions"]), _list(record["answers"])
    if not questions or len(questions) != len(answers):
        raise ValueError(f"qa_passage record needs as many answers as questions (>= 1), got "
                         f"{len(questions)} questions and {len(answers)} answers")
    turns = [(extractive_qa_prompt(record["context"], questions[0]), answers[0])]
    turns += [(f"Question: {q}", a) for q, a in zip(questions[1:], answers[1:], strict=True)]
    return turns


def prompt_and_answer(record: dict) -> tuple[str, str] | None:
    """(user prompt, assistant answer) of a one-turn instruction record; None for plain-text
    records. Raises ValueError for `qa_passage` (several turns: `chat_turns`) and for a format
    without a rule."""
    name = format_name(record["format"])
    if name == "qa_passage":
        raise ValueError("qa_passage records have several turns: use chat_turns")
    if name in EXTRACTIVE_FORMATS:
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


def chat_prompt_ids(tokenizer, prompt: str | list[dict]) -> list[int]:
    """Token ids of a user turn (or a conversation ending with one) followed by the assistant
    header (what generation starts from)."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                         return_dict=False)


def tokenize_record(record: dict, tokenizer) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one record; labels are -100 where no loss is taken.

    Chat records: every prompt part is masked; every answer and its end-of-turn token are
    learned (what the template puts between turns after that token is masked, and trimmed after
    the last turn). Raw records: every token is learned (EOS added where the tokenizer has one).
    Raises ValueError when the chat template does not extend each prefix of the conversation
    (masking by prefix would then be wrong).
    """
    turns = chat_turns(record)
    if turns is None:
        ids = tokenizer(record["text"], add_special_tokens=False)["input_ids"]
        if tokenizer.eos_token_id is not None:
            ids = ids + [tokenizer.eos_token_id]
        return ids, list(ids)
    eos = tokenizer.eos_token_id
    messages: list[dict] = []
    ids: list[int] = []
    labels: list[int] = []
    for i, (prompt, answer) in enumerate(turns):
        messages.append({"role": "user", "content": prompt})
        prompt_ids = chat_prompt_ids(tokenizer, messages) if i else chat_prompt_ids(
            tokenizer, prompt)
        messages.append({"role": "assistant", "content": answer})
        full = tokenizer.apply_chat_template(messages, tokenize=True,
                                             add_generation_prompt=False, return_dict=False)
        if prompt_ids[: len(ids)] != ids or full[: len(prompt_ids)] != prompt_ids:
            raise ValueError("chat template does not extend the prompt with the answer; "
                             "cannot mask")
        answer_ids = full[len(prompt_ids):]
        # Keep the end-of-turn token (the model learns to stop); what the template appends after
        # it (a newline) teaches nothing: masked between turns, dropped after the last.
        kept = len(answer_ids)
        if eos is not None and eos in answer_ids:
            kept = len(answer_ids) - answer_ids[::-1].index(eos)
        last = i == len(turns) - 1
        tail = [] if last else answer_ids[kept:]
        labels += [-100] * (len(prompt_ids) - len(ids)) + answer_ids[:kept] + [-100] * len(tail)
        ids = list(full[: len(prompt_ids) + kept]) + list(tail)
    return ids, labels


def record_tokens(record: dict, tokenizer) -> int:
    """Training tokens one record costs (prompt + answer): the unit of every token budget."""
    return len(tokenize_record(record, tokenizer)[0])
