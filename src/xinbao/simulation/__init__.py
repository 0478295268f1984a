"""The market simulator: a realistic insured-loan market with known ground truth.

A client of Xinbao: it calls use cases with commands and a unit-of-work factory it is handed,
and never imports adapters or writes SQL (import-linter contract).

- ``scenario``: versioned scenario files (volume, mix, funders and their agreements, macro
  path, fraud prevalence); the shipped ones live in ``xinbao/params/scenarios``.
- ``market``: the ground-truth model (applicants, latent quality, default and prepayment
  hazards under a shared macro factor, fraud rings, recoveries), drawn with numpy.
- ``runner``: the simulated clock that drives the use cases day by day and returns the
  figures and the ground truth (one row per application).
- ``identities``: valid synthetic ID numbers, credit codes, phones and bank cards.
"""
