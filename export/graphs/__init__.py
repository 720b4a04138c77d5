"""Inference graphs: what runs on the device, built from an eager model (batch 1).

Every graph has the same signature, whatever the model:

    forward(items int64 [1, L], lengths int64 [1]) -> (scores float32 [k], indices int64 [k])

``items`` holds item indices left-aligned and zero-padded; indices outside 1..|V| (unknown
items) are treated as padding. ``build_graph`` picks the graph for a model.
"""

from export.graphs.base import GraphOptions, InferenceGraph
from export.graphs.build import build_graph

__all__ = ["GraphOptions", "InferenceGraph", "build_graph"]
