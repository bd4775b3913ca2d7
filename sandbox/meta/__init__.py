"""The WhatsApp Cloud API emulator: Meta's send, media and read endpoints, its errors and limits, and the signed
status webhooks it sends back."""
