"""3D CNN and ViT outcome classifiers trained end to end on lesion-centred crops.

Modules: ``crops`` (two-channel crops from the masks), ``data`` (datasets, augmentation),
``networks`` (MONAI DenseNet / ResNet / ViT), ``trainer`` (the training loop of one fit, on
:mod:`radiopipe.torchrun`), ``design`` (the train stage's designs and folds.csv), ``runner``
(the library entry, ``radiopipe deep train``), ``stage`` (the stage adapter of a run:
``run_deep_stage``; ``radiopipe.deep.runner.run_deep_stage`` still imports),
``predict`` (inference, the predictions table, the saved model), ``explain`` / ``overlays`` /
``explain_run`` (Grad-CAM and attention rollout), ``merge`` (with a radiomics run's
predictions table; ``write_combined`` for the evaluate stage).
"""
