"""The torch runtime shared by segment/ (V-Net) and deep/ (CNN / ViT).

:mod:`.device` (device choice, AMP, CPU threads), :mod:`.seeding` (derived seeds, RNG
isolation and state), :mod:`.checkpoint` (weights and training states, written atomically and
read with ``weights_only=True``) and :mod:`.loop` (the epoch loop with early stopping).
"""
