"""V-Net lesion auto-segmentation: network, transforms, training, inference, QC and metrics.

Where the study we follow (Wen et al.) is thin, this stage does more: the V-Net trains only on
the radiomics training split (never on internal or external test patients); quality is
reported on held-out patients as Dice, HD95, mean surface distance and volume difference in
millimetres, not only a validation Dice; every automatic mask gets QC flags (empty, tiny,
touching the border, low test-time-augmentation agreement); and the automatic masks can be
compared feature by feature with reference masks (``mask2_<seq>`` for ``robustness``).

Roles: ``runner`` (library entry, ``segment train``), ``trainer`` (training loop of one
V-Net, on :mod:`radiopipe.torchrun`), ``stage`` (the pipeline's stage adapter),
``model_folder`` (the trained model folder). Modules import torch and MONAI; import them
inside commands, not at package import time.
"""
