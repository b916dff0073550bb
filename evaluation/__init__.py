"""Evaluation: generation engines behind one interface and the SQuAD metric."""
