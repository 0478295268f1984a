"""Entrypoints: thin edges that parse input into commands, call a use case, and map domain
errors to exit codes (``cli``) or HTTP statuses (``api``). No queries or rules here."""
