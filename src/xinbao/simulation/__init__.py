"""Synthetic books of business, driven through the service layer exactly as funders would.

A client of Xinbao: it calls use cases with commands and a unit-of-work factory it is handed,
and never imports adapters or writes SQL (import-linter contract). ``scripted_book`` is the
small scripted book behind ``make demo``; the market simulator replaces it.
"""
