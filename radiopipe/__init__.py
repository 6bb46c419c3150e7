"""radiopipe: multi-centre MRI radiomics from raw volumes to a validated outcome model."""

__version__ = "0.1.0"
