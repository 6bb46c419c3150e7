"""Earlier spelling of :mod:`radiopipe.modeling.harmonise`, kept so model bundles saved
before the rename (skops files naming ``radiopipe.modeling.harmonize.ComBatHarmonizer``) load."""

from radiopipe.modeling.harmonise import ComBatHarmoniser, DropMeta

ComBatHarmonizer = ComBatHarmoniser

__all__ = ["ComBatHarmoniser", "ComBatHarmonizer", "DropMeta"]
