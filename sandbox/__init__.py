"""Local stand-ins for the outside world: Meta's WhatsApp Cloud API and an OpenAI-compatible model.

Nothing here imports the rest of wamux: the sandbox plays the parties wamux talks to, so it only shares
their wire protocols, never their code.
"""
