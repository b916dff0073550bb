"""LLM rewriters: a style (a prompt file in conf/rewrite_llm/styles/) asks a language model to
rewrite a page's passage; the answer is parsed, grounded in the passage and made into records."""
