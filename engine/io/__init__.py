"""File formats, each defined once, readable with numpy + json alone."""
