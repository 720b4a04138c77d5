"""Top-k comparison across devices: exact, near-tie swaps, and real mismatches."""

from __future__ import annotations

from android_harness.results import SessionTopK
from android_harness.topk import compare_session, compare_topk


def s(indices, scores=None) -> SessionTopK:
    return SessionTopK(len(indices), tuple(indices), tuple(scores or ()))


A = s([7, 3, 9, 1], [4.0, 3.0, 2.5, 1.0])


def test_exact():
    assert compare_session(A, s([7, 3, 9, 1], [4.0, 3.0000003, 2.5, 1.0]))[0] == "exact"


def test_swap_within_tolerance_is_a_tie():
    a = s([7, 3, 9, 1], [4.0, 3.0, 2.999999, 1.0])
    b = s([7, 9, 3, 1], [4.0, 3.0, 2.999999, 1.0])
    assert compare_session(a, b) == ("ties", 1, "")


def test_swap_across_distinct_scores_is_a_mismatch():
    verdict, rank, reason = compare_session(A, s([7, 9, 3, 1], [4.0, 3.0, 2.5, 1.0]))
    assert verdict == "mismatch" and rank == 1 and "moved from rank" in reason


def test_boundary_item_replaced_by_a_near_tie():
    a = s([7, 3, 9, 1], [4.0, 3.0, 2.5, 1.0])
    b = s([7, 3, 9, 5], [4.0, 3.0, 2.5, 1.000001])
    assert compare_session(a, b)[0] == "ties"
    far = s([7, 3, 9, 5], [4.0, 3.0, 2.5, 0.5])
    assert compare_session(a, far)[0] == "mismatch"


def test_tolerance_is_relative_for_large_scores():
    a = s([1, 2], [1000.0, 1000.004])
    b = s([2, 1], [1000.004, 1000.0])
    assert compare_session(a, b, tol=1e-5)[0] == "ties"
    assert compare_session(a, b, tol=1e-7)[0] == "mismatch"


def test_without_scores_only_exact_counts():
    assert compare_session(s([1, 2]), s([1, 2]))[0] == "exact"
    assert compare_session(s([1, 2]), s([2, 1]))[0] == "mismatch"
    assert "k differs" in compare_session(s([1, 2]), s([1, 2, 3]))[2]


def test_compare_runs_reports_each_mismatching_session():
    a = [A, s([1, 2], [2.0, 1.0]), s([4, 5], [2.0, 1.9999999])]
    b = [A, s([2, 1], [2.0, 1.0]), s([5, 4], [2.0, 1.9999999])]
    c = compare_topk(a, b)
    assert (c.n_sessions, c.exact, c.tie_equivalent, c.top1_equal) == (3, 1, 1, 1)
    assert not c.ok and [m.session for m in c.mismatches] == [1]
    assert "top-k equal on 2/3 sessions" in c.summary() and "session 1, rank 0" in c.summary()
    assert compare_topk(a, a).ok
    assert not compare_topk(a, a[:2]).ok
