"""wamux's public vocabulary: the envelope, every command and event, their JSON Schemas."""
