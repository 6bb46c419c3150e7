"""V-Net lesion auto-segmentation: network, transforms, training, inference, QC and metrics.

Modules import torch and MONAI; import them inside commands, not at package import time.
"""
