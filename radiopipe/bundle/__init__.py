"""Score new patients: a self-contained, checksummed model bundle and scoring from images.

``write_bundle`` (run -> bundle), ``load_bundle`` (checksums verified, nothing unpickled),
``predict_images`` (validate -> preprocess -> segment -> extract -> model) and
``predict_features`` (a feature table whose settings hash must match the bundle's).
"""
