"""The companion: guide's own OpenAI-compatible server (the app's embedded default, and `guide serve`); an action without an engine is a 404."""
