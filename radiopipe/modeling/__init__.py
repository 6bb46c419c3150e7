"""Leakage-safe radiomics modelling."""
