"""Credit scoring: optimal-binning WoE scorecards, a gradient-boosting challenger, and their
validation (AUC, KS, Gini, PSI, calibration). Data in, models and reports out: no storage."""
