"""Which inference graph a model gets: look-up-table scoring for code students, else score-all."""

from __future__ import annotations

import copy

from export.graphs.base import GraphOptions, InferenceGraph, Kernels, ScoreAllGraph
from export.graphs.stored_weights import store_encoder
from export.graphs.student import CodeStudentGraph, is_code_student
from toolchain.models.base import SessionRecommender


def build_graph(model: SessionRecommender, options: GraphOptions) -> InferenceGraph:
    """The inference graph for ``model``: LUT scoring for code students, else score-all."""
    options.check(model.items.n_items)
    model = model.eval()
    if is_code_student(model):
        graph: InferenceGraph = CodeStudentGraph(model, options)
    else:
        if options.encoder_storage != "fp32":
            model = copy.deepcopy(model)
        graph = ScoreAllGraph(model, options)
    store_encoder(graph.model, options.encoder_storage, options.kernels == Kernels.odtool)
    return graph.eval()
