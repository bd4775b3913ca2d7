"""An OpenAI-compatible chat-completions stub that answers deterministically."""
