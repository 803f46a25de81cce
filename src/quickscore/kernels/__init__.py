"""Compiled (numba) kernels for the hot loops of scoring.

Tree ensembles: ``lower_trees`` turns IR TreeModels into flat ``TreeArrays`` (or None when a
tree cannot be run exactly, and the reference evaluator must run); ``leaf_indices`` and the
fused ``sum_values`` / ``vote_counts`` / ``sum_probabilities`` (+ ``combine_*``) score a
float64 matrix built by ``TreeArrays.encode``. See ``trees`` (layout, lowering),
``tree_kernels`` (loops), ``ensemble`` (entry points, threads), ``options`` (numba flags).
"""

from quickscore.kernels.ensemble import (
    ProbabilitySums,
    ValueSums,
    VoteCounts,
    average_probabilities,
    average_values,
    combine_probabilities,
    combine_values,
    combine_votes,
    leaf_indices,
    leaf_indices_row,
    sum_probabilities_row,
    sum_values_row,
    vote_counts_row,
    warmup,
    missing_levels,
    sum_probabilities,
    sum_values,
    vote_counts,
)
from quickscore.kernels.options import n_threads, set_n_threads
from quickscore.kernels.trees import UNSEEN, FieldEncoding, TreeArrays, encode_categories, lower_trees, predicate_fields

__all__ = [
    "FieldEncoding",
    "ProbabilitySums",
    "TreeArrays",
    "UNSEEN",
    "ValueSums",
    "VoteCounts",
    "average_probabilities",
    "average_values",
    "combine_probabilities",
    "combine_values",
    "combine_votes",
    "encode_categories",
    "leaf_indices",
    "leaf_indices_row",
    "lower_trees",
    "missing_levels",
    "predicate_fields",
    "n_threads",
    "set_n_threads",
    "sum_probabilities",
    "sum_probabilities_row",
    "sum_values",
    "sum_values_row",
    "vote_counts",
    "vote_counts_row",
    "warmup",
]
