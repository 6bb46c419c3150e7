"""3D CNN and ViT outcome classifiers trained end to end on lesion-centred crops.

Modules: ``crops`` (two-channel crops from the masks), ``data`` (datasets, augmentation),
``networks`` (MONAI DenseNet / ResNet / ViT), ``train`` (one fit), ``design`` (fixed splits
or outer CV folds), ``runner`` (``radiopipe deep train``), ``predict`` (inference, the
predictions table, the saved model), ``explain`` / ``overlays`` / ``explain_run`` (Grad-CAM
and attention rollout), ``merge`` (into a radiomics run's predictions table).
"""
