"""The columnar interaction log: what readers return, what the workspace stores and gives back."""

import math

import numpy as np
import pytest

from llmrec.catalog.interactions import InteractionLog
from llmrec.catalog.movielens import read_movielens
from llmrec.catalog.readers import read_interactions
from llmrec.catalog.schema import Interaction
from llmrec.testing.catalogs import write_tiny_movielens
from llmrec.workspace import Workspace


def small_log() -> InteractionLog:
    return InteractionLog.from_columns(["u1", "u2", "u1"], ["b", "a", "a"], [5.0, 1.0, 1.0], [4.0, None, 3.5],
                                       [0, 1, 7])


def test_columns_code_users_and_items_in_order_of_first_appearance():
    log = small_log()
    assert log.user_ids == ("u1", "u2") and log.item_ids == ("b", "a")
    assert log.users.tolist() == [0, 1, 0] and log.items.tolist() == [0, 1, 1]
    assert log.rows.tolist() == [0, 1, 7]
    assert math.isnan(log.ratings[1]) and log.ratings[2] == 3.5


def test_single_events_read_back_as_the_interactions_they_were():
    events = [Interaction(user_id="u1", item_id="b", timestamp=5, rating=4, row=0),
              Interaction(user_id="u2", item_id="a", timestamp=1, row=1)]
    log = InteractionLog.from_events(events)
    assert list(log) == events
    assert log[-1] == events[-1] and log[1].rating is None
    with pytest.raises(IndexError):
        log[2]


def test_every_column_needs_one_value_per_event():
    with pytest.raises(ValueError, match="one value per event"):
        InteractionLog.from_columns(["u1", "u2"], ["a"], [1.0, 2.0])


def test_a_selection_keeps_the_vocabularies_so_codes_stay_comparable():
    log = small_log()
    picked = log.select(np.array([2, 1]))
    assert picked.item_ids == log.item_ids and picked.items.tolist() == [1, 1]
    assert picked.present_items() == ["a"] and picked.present_users() == ["u1", "u2"]
    assert [e.row for e in log[1:]] == [1, 7]


def test_with_items_drops_events_of_unknown_items():
    assert [e.item_id for e in small_log().with_items({"a"})] == ["a", "a"]


def test_logs_concatenate_with_merged_vocabularies():
    other = InteractionLog.from_columns(["u3", "u1"], ["c", "a"], [9.0, 9.0])
    both = small_log() + other
    assert both.user_ids == ("u1", "u2", "u3") and both.item_ids == ("b", "a", "c")
    assert [(e.user_id, e.item_id, e.row) for e in both][-2:] == [("u3", "c", 0), ("u1", "a", 1)]
    assert len(InteractionLog.empty() + other) == 2


def test_movielens_ratings_come_back_as_columns(tmp_path):
    _, log = read_movielens(write_tiny_movielens(tmp_path / "ml"))
    assert isinstance(log, InteractionLog)
    assert log.users.dtype == np.int64 and log.timestamps.dtype == np.float64
    assert log.rows.tolist() == list(range(len(log)))


def test_a_user_csv_is_validated_row_by_row_and_returned_as_columns(tmp_path):
    (tmp_path / "log.csv").write_text("user_id,item_id,timestamp,rating\nu1,a,1,4\nu1,,2,\nu2,b,2024-01-01,\n")
    result = read_interactions(tmp_path / "log.csv")
    assert isinstance(result.interactions, InteractionLog)
    assert result.interactions.item_column() == ["a", "b"] and result.interactions.rows.tolist() == [0, 2]
    assert len(result.problems) == 1 and "item_id: missing" in result.problems[0]


def test_the_workspace_stores_a_log_and_gives_back_the_same_columns(tmp_path):
    ws = Workspace(tmp_path / "ws", create=True)
    assert ws.add_interactions(small_log()) == 3
    assert ws.add_interactions(small_log()) == 0  # exact repeats are ignored: re-ingest is safe
    back = ws.interaction_log()
    assert back.user_column() == ["u1", "u2", "u1"] and back.item_column() == ["b", "a", "a"]
    assert back.timestamps.tolist() == [5.0, 1.0, 1.0] and back.rows.tolist() == [0, 1, 7]
    assert np.array_equal(np.isnan(back.ratings), [False, True, False])
    # A later log is numbered after everything already stored, so row order stays the order of arrival.
    ws.add_interactions(InteractionLog.from_columns(["u9"], ["z"], [0.0]))
    assert ws.interaction_log().rows.tolist() == [0, 1, 7, 8]
    assert [e.item_id for e in ws.history("u1")] == ["a", "b"]
