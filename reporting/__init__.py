"""The energy-to-accuracy report: figures from the metrics files, plots, Markdown/HTML."""
