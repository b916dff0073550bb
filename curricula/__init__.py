"""Curriculum steps, one concern per file; a curriculum is a config listing steps in order."""
