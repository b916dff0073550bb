"""joule's pipeline: one module per DVC stage, plus the pieces they share."""
