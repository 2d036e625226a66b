"""The terminal app. Importing this package is cheap; `app` loads Textual."""
