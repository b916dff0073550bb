"""The CPU speed path for evaluation: a batch's prompts prefilled as one packed tree of shared
prefixes, batches shared out among one-thread worker processes."""
