"""Pure business rules and value objects of financing credit & guarantee insurance.

Imports the standard library, numpy and python-stdnum only: no SQL, HTTP, files, clocks or
randomness that is not passed in (checked by the import-linter contract in pyproject.toml).

Modules, in the order an insured loan meets them:
``money`` (fen and rates) → ``identity`` (ID numbers, masking) → ``parties`` (roles by mode) →
``products`` (versioned product terms) → ``loans`` (schedules, days past due, all-in cost) →
``underwriting`` (approval findings) → ``policy`` (state machine, premium, refunds) →
``claims`` (liability determination, payout) → ``recovery`` → ``ledger`` (double entry,
statements).
"""
