"""Runs wamux's own processes on this machine beside the sandbox: the demo and the end-to-end stack."""
