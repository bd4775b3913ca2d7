"""Meta's Graph API: the client, its typed errors, media."""
