"""On-demand performance harnesses (`python -m bench.<name>`)."""
