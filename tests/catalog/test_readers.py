"""Catalog and interaction-log reading: every bad row is named by file, line and field; good rows survive."""

import json
import os
from pathlib import Path

import pytest

from llmrec.catalog.readers import read_catalog, read_interactions
from llmrec.config import CatalogConfig
from llmrec.errors import CatalogError


def write_jsonl(path, rows):
    path.write_bytes(b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows) + b"\n")
    return path


def test_jsonl_rows_become_items_with_fields_and_media_resolved_against_the_catalog(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [
        {"id": 1, "title": "Alpha", "genres": ["drama", "war"], "image": "img/a.png", "audio": ["a.wav", "b.wav"],
         "metadata": {"year": 1999}},
    ])
    item = read_catalog(cat).items[0]
    assert item.id == "1" and item.title == "Alpha"
    assert item.fields == {"genres": "drama, war"}
    assert item.images == [tmp_path / "img" / "a.png"]
    assert [p.name for p in item.audio] == ["a.wav", "b.wav"]
    assert item.metadata == {"year": 1999}


def test_items_with_media_record_the_catalog_folder_their_paths_must_stay_inside(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data", target_is_directory=True)
    cat = write_jsonl(tmp_path / "link" / "c.jsonl", [{"id": "m", "title": "Media", "image": "a.png"},
                                                      {"id": "t", "title": "Text only"}])
    items = {i.id: i for i in read_catalog(cat).items}
    assert items["m"].media_root == tmp_path / "data"  # the folder itself, with links resolved
    assert items["t"].media_root is None


def test_hostile_media_paths_are_read_as_paths_and_nothing_they_name_is_touched(tmp_path):
    from llmrec.testing.hostile_media import recorded_opens

    os.mkfifo(tmp_path / "pipe.wav")
    cat = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "z", "title": "Zero", "image": "/dev/zero"},
        {"id": "p", "title": "Pipe", "audio": "pipe.wav"},
        {"id": "e", "title": "Escape", "image": "../../../etc/passwd"},
    ])
    with recorded_opens() as seen:
        items = read_catalog(cat).items
    assert [i.id for i in items] == ["z", "p", "e"]  # refusing them is the media stage's job, item by item
    assert items[0].images == [Path("/dev/zero")]
    assert items[2].images == [tmp_path / ".." / ".." / ".." / "etc" / "passwd"]  # joined, not resolved
    assert seen == [str(cat)]  # the catalog file is the only file opened


def test_non_utf8_line_is_reported_with_its_line_number_and_other_rows_are_kept(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "title": "A"}, b'{"id": "b", "title": "caf\xe9"}',
                                             {"id": "c", "title": "C"}])
    result = read_catalog(cat)
    assert [i.id for i in result.items] == ["a", "c"]
    assert len(result.problems) == 1 and result.problems[0].startswith("c.jsonl:2: not valid UTF-8")


def test_missing_id_and_missing_title_name_the_field(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"title": "No id"}, {"id": "x"}, {"id": "", "title": "Blank"},
                                             {"id": "ok", "title": "Fine"}])
    problems = read_catalog(cat).problems
    assert problems[0].startswith("c.jsonl:1: id: missing")
    assert problems[1].startswith("c.jsonl:2: title: missing")
    assert problems[2].startswith("c.jsonl:3: id: missing")


def test_duplicate_id_keeps_the_first_row_and_points_at_both_lines(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "title": "First"}, {"id": "a", "title": "Second"}])
    result = read_catalog(cat)
    assert [i.title for i in result.items] == ["First"]
    assert "c.jsonl:2: id: duplicate id 'a' (first seen at c.jsonl:1)" in result.problems[0]


def test_a_10mb_description_is_truncated_with_a_warning_not_rejected(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"id": "big", "title": "Big", "description": "x" * 10_000_000}])
    item = read_catalog(cat, CatalogConfig(max_field_chars=20_000)).items[0]
    assert len(item.fields["description"]) == 20_000
    assert "description: 10,000,000 characters truncated to 20,000" in item.warnings[0]


def test_strict_mode_refuses_the_file_and_lists_every_problem(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"id": "a"}, b"not json", {"id": "b", "title": "ok"}])
    with pytest.raises(CatalogError) as err:
        read_catalog(cat, strict=True)
    assert len(err.value.problems) == 2
    assert "nothing was stored" in str(err.value)


def test_csv_catalog_with_several_media_paths_in_one_cell(tmp_path):
    (tmp_path / "c.csv").write_text("id,title,genres,image\n7,Seven,thriller,a.png|b.png\n,Nameless,,\n")
    result = read_catalog(tmp_path / "c.csv")
    assert [p.name for p in result.items[0].images] == ["a.png", "b.png"]
    assert result.problems == ["c.csv:3: id: missing (every item needs a non-empty id)"]


def test_csv_without_required_columns_is_a_clear_error(tmp_path):
    (tmp_path / "c.csv").write_text("name,genre\nx,y\n")
    with pytest.raises(CatalogError, match="header lacks required column"):
        read_catalog(tmp_path / "c.csv")


def test_unknown_format_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        read_catalog(tmp_path / "nope.jsonl")
    (tmp_path / "c.xml").write_text("<x/>")
    with pytest.raises(CatalogError, match="unknown catalog format"):
        read_catalog(tmp_path / "c.xml")


def test_interactions_accept_epoch_and_iso_timestamps_and_report_bad_rows(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp,rating\nu1,a,100,4\nu1,b,2024-01-02T03:04:05,\nu2,c,yesterday,3\n"
                   ",d,5,1\n")
    result = read_interactions(log)
    assert [(i.user_id, i.item_id, i.rating) for i in result.interactions] == [("u1", "a", 4.0), ("u1", "b", None)]
    assert result.problems == ["log.csv:4: timestamp: 'yesterday' is neither a number nor ISO-8601",
                               "log.csv:5: user_id: missing"]


def test_a_catalog_whose_every_row_is_rejected_is_an_error_naming_the_first_problems(tmp_path):
    cat = write_jsonl(tmp_path / "c.jsonl", [{"id": "a"}, {"title": "No id"}])
    with pytest.raises(CatalogError, match="every row was rejected") as err:
        read_catalog(cat)
    assert "c.jsonl:1: title: missing" in str(err.value) and "c.jsonl:2: id: missing" in str(err.value)
    assert len(err.value.problems) == 2


def test_a_json_file_may_hold_one_array_of_objects(tmp_path):
    cat = tmp_path / "c.json"
    cat.write_text(json.dumps([{"id": "a", "title": "A"}, {"id": "b", "title": "B", "genre": "jazz"}], indent=2))
    result = read_catalog(cat)
    assert [(i.id, i.title) for i in result.items] == [("a", "A"), ("b", "B")]
    assert result.items[1].fields == {"genre": "jazz"} and result.problems == []


def test_bad_elements_of_a_json_array_are_named_by_the_line_they_start_on(tmp_path):
    cat = tmp_path / "c.json"
    cat.write_text('[\n  {"id": "a", "title": "A"},\n  {"id": "b"},\n  "just text",\n  {"id": "c", "title": "C"}\n]\n')
    result = read_catalog(cat)
    assert [i.id for i in result.items] == ["a", "c"]
    assert result.problems == ["c.json:3: title: missing (every item needs a title)",
                               "c.json:4: each element of the array must be a JSON object"]


def test_a_json_array_element_over_the_row_limit_is_rejected_like_a_long_jsonl_line(tmp_path):
    cat = tmp_path / "c.json"
    cat.write_text(json.dumps([{"id": "a", "title": "A"}, {"id": "b", "title": "B", "plot": "x" * 2_000}]))
    result = read_catalog(cat, CatalogConfig(max_row_bytes=1_000))
    assert [i.id for i in result.items] == ["a"]
    assert result.problems[0].startswith("c.json:1: row is 2,") and "over the 1,000 limit" in result.problems[0]


def test_a_broken_json_array_keeps_the_elements_before_the_error_and_says_where_it_is(tmp_path):
    cat = tmp_path / "c.json"
    cat.write_text('[\n{"id": "a", "title": "A"},\n{"id": "b", "title": "B"\n{"id": "c", "title": "C"}]\n')
    result = read_catalog(cat)
    assert [i.id for i in result.items] == ["a"]
    assert result.problems == ["c.json:4: not valid JSON (Expecting ',' delimiter); the rest of the array was not read"]


@pytest.mark.parametrize("newline", [b"\r", b"\r\n"], ids=["classic-mac", "windows"])
def test_csv_catalogs_and_logs_with_cr_or_crlf_line_endings_read_like_unix_ones(tmp_path, newline):
    (tmp_path / "c.csv").write_bytes(newline.join([b"id,title", b"1,One", b",Nameless", b"3,Three", b""]))
    (tmp_path / "log.csv").write_bytes(newline.join([b"user_id,item_id,timestamp", b"u,1,5", b"u,3,x", b""]))
    catalog = read_catalog(tmp_path / "c.csv")
    assert [i.id for i in catalog.items] == ["1", "3"]
    assert catalog.problems == ["c.csv:3: id: missing (every item needs a non-empty id)"]
    log = read_interactions(tmp_path / "log.csv")
    assert [i.item_id for i in log.interactions] == ["1"]
    assert log.problems == ["log.csv:3: timestamp: 'x' is neither a number nor ISO-8601"]


def test_malformed_csv_headers_are_catalog_errors_with_file_and_line(tmp_path):
    header = "id,title," + "x" * 200_000 + "\n1,One,\n"  # one header cell over csv's field size limit
    (tmp_path / "c.csv").write_text(header)
    (tmp_path / "log.csv").write_text(header.replace("id,title", "user_id,item_id,timestamp"))
    with pytest.raises(CatalogError, match=r"c\.csv:1: malformed header"):
        read_catalog(tmp_path / "c.csv", CatalogConfig(max_row_bytes=1_000))
    with pytest.raises(CatalogError, match=r"log\.csv:1: malformed header"):
        read_interactions(tmp_path / "log.csv")


def test_tsv_catalogs_and_logs_are_split_on_tabs_so_commas_stay_in_the_text(tmp_path):
    (tmp_path / "c.tsv").write_text("id\ttitle\tgenres\n1\tCrime, Punishment\tdrama, crime\n")
    (tmp_path / "log.tsv").write_text("user_id\titem_id\ttimestamp\nu\t1\t5\n")
    item = read_catalog(tmp_path / "c.tsv").items[0]
    assert (item.id, item.title, item.fields) == ("1", "Crime, Punishment", {"genres": "drama, crime"})
    assert [(i.user_id, i.item_id) for i in read_interactions(tmp_path / "log.tsv").interactions] == [("u", "1")]
