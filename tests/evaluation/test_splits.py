"""k-core filtering, per-user ordering with both tie rules, and leave-one-out."""

from llmrec.catalog.interactions import InteractionLog, natural_item_key, user_sequences
from llmrec.catalog.schema import Interaction
from llmrec.evaluation.splits import k_core, leave_one_out, llamarec_item_order


def log(*rows: tuple[str, str, float]) -> InteractionLog:
    return InteractionLog.from_events(Interaction(user_id=u, item_id=i, timestamp=t, row=n)
                                      for n, (u, i, t) in enumerate(rows))


def test_k_core_iterates_until_every_user_and_item_meets_the_threshold():
    # Item "c" has 2 users; dropping it leaves user "y" with 1 item, which then drops item "b" below 2.
    rows = log(("x", "a", 1), ("x", "b", 2), ("y", "b", 1), ("y", "c", 2), ("z", "a", 1), ("z", "c", 2),
               ("w", "a", 3), ("w", "d", 4), ("v", "a", 1), ("v", "d", 1))
    once_ok = k_core(rows, min_user=2, min_item=2)
    assert list(once_ok) == list(rows)  # every count is already >= 2

    kept = k_core(rows, min_user=2, min_item=3)
    # Items with >= 3 users: only "a" (x, z, w, v). Then every user has 1 item (< 2) -> nothing survives.
    assert list(kept) == []


def test_k_core_reaches_a_fixpoint_a_single_pass_would_miss():
    rows = log(("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 1), ("u2", "b", 2), ("u3", "a", 1), ("u3", "c", 2))
    kept = k_core(rows, min_user=2, min_item=2)
    # Pass 1 drops item c (1 user); u3 is then left with one item and goes; a and b still have 2 users each.
    assert {(r.user_id, r.item_id) for r in kept} == {("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")}


def test_k_core_preserves_file_order():
    rows = log(("u1", "b", 5), ("u2", "a", 1), ("u1", "a", 1), ("u2", "b", 9))
    assert list(k_core(rows, 1, 1)) == list(rows)


def test_ties_broken_by_item_id_sort_numerically():
    rows = log(("u", "10", 5), ("u", "9", 5), ("u", "2", 1))
    assert user_sequences(rows, tie_break="item")["u"] == ["2", "9", "10"]


def test_ties_broken_by_row_keep_file_order():
    rows = log(("u", "10", 5), ("u", "9", 5), ("u", "2", 1))
    assert user_sequences(rows, tie_break="row")["u"] == ["2", "10", "9"]


def test_timestamps_order_events_before_any_tie_rule():
    rows = log(("u", "1", 3), ("u", "2", 2), ("u", "3", 1))
    for rule in ("item", "row"):
        assert user_sequences(rows, tie_break=rule)["u"] == ["3", "2", "1"]


def test_llamarec_item_order_is_python_set_iteration_order():
    rows = log(("u", "5", 1), ("u", "131077", 1), ("u", "3", 1))
    order = llamarec_item_order(rows)
    expected = list(set([5, 131077, 3]))
    assert sorted(order, key=order.get) == [str(i) for i in expected]


def test_natural_item_key_puts_integers_first_and_in_numeric_order():
    assert sorted(["b", "10", "2", "a"], key=natural_item_key) == ["2", "10", "a", "b"]


def test_leave_one_out_holds_out_last_for_test_and_second_last_for_validation():
    split = leave_one_out({"u": ["a", "b", "c", "d"], "short": ["x", "y"]})
    assert split.train["u"] == ["a", "b"]
    assert split.valid["u"] == "c"
    assert split.test["u"] == "d"
    assert split.users == ["u"]
    # Too short to evaluate: kept whole for training, no targets.
    assert split.train["short"] == ["x", "y"]
    assert split.too_short == ["short"]
    assert "short" not in split.valid and "short" not in split.test
