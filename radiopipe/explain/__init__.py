"""SHAP explanations of the fitted models: the stacking ensemble (model-agnostic, in the
selected feature space) and its tree base learners (TreeSHAP), grouped by sequence, image
type and feature class."""

from radiopipe.explain.core import ModelExplanation, ShapResult, explain_pipeline
from radiopipe.explain.groups import describe_features, group_values, grouped_importance
from radiopipe.explain.permutation import permutation_shap
from radiopipe.explain.stage import ExplainInputs, explain_run
from radiopipe.explain.trees import tree_shap

__all__ = [
    "ExplainInputs",
    "ModelExplanation",
    "ShapResult",
    "describe_features",
    "explain_pipeline",
    "explain_run",
    "group_values",
    "grouped_importance",
    "permutation_shap",
    "tree_shap",
]
