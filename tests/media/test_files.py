"""Opening media a catalog names: confined to allowed folders, regular files only, bounded size, never blocking."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from llmrec.config import MediaConfig
from llmrec.errors import MediaError
from llmrec.media import MediaDescriber, allowed_roots, open_confined, open_regular
from llmrec.media import files as files_mod
from llmrec.testing.hostile_media import bomb_png, recorded_opens, sparse_file

LIMIT = 2**20


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(catalog folder with ok.png and sub/inner.png, an outside folder with secret.png)."""
    catalog, outside = tmp_path / "catalog", tmp_path / "outside"
    (catalog / "sub").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(catalog / "ok.png")
    Image.new("RGB", (8, 8), (4, 5, 6)).save(catalog / "sub" / "inner.png")
    Image.new("RGB", (8, 8), (250, 0, 0)).save(outside / "secret.png")
    return catalog, outside


def refusal(path: Path, roots: list[Path], limit: int = LIMIT) -> tuple[str, list[str]]:
    """The error message of opening ``path``, and every file Python opened meanwhile; fails if it opened."""
    done: list[tuple[str, list[str]]] = []

    def attempt() -> None:
        with recorded_opens() as seen:
            try:
                open_confined(path, roots, limit).close()
            except MediaError as e:
                done.append((str(e), list(seen)))
            else:
                done.append(("", list(seen)))

    # A daemon thread: were the open to block (a FIFO), the test fails instead of hanging the whole run.
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done, f"opening {path} did not finish within 10 s"
    message, seen = done[0]
    assert message, f"{path} was opened"
    return message, seen


def test_a_file_inside_the_catalog_folder_opens_and_hashes_the_bytes_it_reads(layout):
    catalog, _ = layout
    with open_confined(catalog / "sub" / "inner.png", [catalog], LIMIT) as media:
        assert media.read_all() == (catalog / "sub" / "inner.png").read_bytes()
        assert media.sha256() == hashlib.sha256(media.read_all()).hexdigest()


def test_dev_zero_is_refused_before_it_is_opened(layout):
    catalog, _ = layout
    message, seen = refusal(Path("/dev/zero"), [catalog])
    assert "outside the allowed media folders" in message
    assert not any(Path(p).name == "zero" for p in seen)


def test_a_device_inside_an_allowed_folder_is_refused_as_not_a_regular_file():
    message, seen = refusal(Path("/dev/zero"), [Path("/dev")])
    assert message == "refused: a device, not a regular file"
    assert not any(Path(p).name == "zero" for p in seen)


def test_a_named_pipe_is_refused_without_blocking_or_being_opened(layout):
    catalog, _ = layout
    os.mkfifo(catalog / "pipe.wav")
    message, seen = refusal(catalog / "pipe.wav", [catalog])
    assert message == "refused: a named pipe (FIFO), not a regular file"
    assert "pipe.wav" not in {Path(p).name for p in seen}


def test_a_path_escaping_by_dot_dot_is_refused_and_names_where_it_leads(layout):
    catalog, outside = layout
    message, seen = refusal(catalog / ".." / "outside" / "secret.png", [catalog])
    assert f"it resolves to {outside / 'secret.png'}, outside the allowed media folders ({catalog})" in message
    assert "[media] roots" in message  # says what to do
    assert "secret.png" not in {Path(p).name for p in seen}


def test_an_absolute_path_outside_the_folder_is_refused(layout):
    catalog, outside = layout
    message, seen = refusal(outside / "secret.png", [catalog])
    assert "outside the allowed media folders" in message
    assert "secret.png" not in {Path(p).name for p in seen}


def test_a_symlink_pointing_outside_is_refused_and_its_target_never_opened(layout):
    catalog, outside = layout
    (catalog / "poster.png").symlink_to(outside / "secret.png")
    (catalog / "linked").symlink_to(outside, target_is_directory=True)
    for path in (catalog / "poster.png", catalog / "linked" / "secret.png"):
        message, seen = refusal(path, [catalog])
        assert f"it resolves to {outside / 'secret.png'}" in message
        assert not {"secret.png", "poster.png"} & {Path(p).name for p in seen}


def test_a_symlink_that_stays_inside_the_folder_is_followed(layout):
    catalog, _ = layout
    (catalog / "alias.png").symlink_to(catalog / "sub" / "inner.png")
    with open_confined(catalog / "alias.png", [catalog], LIMIT) as media:
        assert media.read_all() == (catalog / "sub" / "inner.png").read_bytes()


def test_configured_roots_admit_a_folder_outside_the_catalog(layout):
    catalog, outside = layout
    roots = allowed_roots(catalog, MediaConfig(roots=[outside]).roots)
    with open_confined(outside / "secret.png", roots, LIMIT) as media:
        assert media.size == (outside / "secret.png").stat().st_size


def test_an_item_with_no_folder_and_no_roots_is_refused_with_what_to_do(layout):
    _, outside = layout
    message, _ = refusal(outside / "secret.png", allowed_roots(None, []))
    assert "re-ingest its catalog" in message and "[media] roots" in message


def test_a_huge_sparse_file_is_refused_by_its_size_before_a_byte_is_read(layout):
    catalog, _ = layout
    sparse_file(catalog / "huge.png", 50 * 2**30)
    message, seen = refusal(catalog / "huge.png", [catalog], limit=512 * 2**20)
    assert message == "refused: 50.0 GiB, over the 512.0 MiB limit ([media] max_file_mb)"
    assert "huge.png" not in {Path(p).name for p in seen}


def test_a_folder_is_refused(layout):
    catalog, _ = layout
    assert refusal(catalog / "sub", [catalog])[0] == "refused: a folder, not a regular file"
    assert refusal(catalog, [catalog])[0] == "refused: a folder, not a regular file"


def test_a_missing_file_inside_the_folder_is_reported_as_not_found(layout):
    catalog, _ = layout
    assert refusal(catalog / "nope.png", [catalog])[0] == "file not found"


def test_a_folder_swapped_for_a_symlink_after_the_check_does_not_lead_out(layout, monkeypatch):
    catalog, outside = layout
    (outside / "inner.png").write_bytes((outside / "secret.png").read_bytes())
    real_confine = files_mod._confine

    def confine_then_swap(path, roots):
        checked = real_confine(path, roots)
        (catalog / "sub").rename(catalog / "old-sub")  # the race an attacker would win
        (catalog / "sub").symlink_to(outside, target_is_directory=True)
        return checked

    monkeypatch.setattr(files_mod, "_confine", confine_then_swap)
    with recorded_opens() as seen, pytest.raises(MediaError, match="symbolic link"):
        open_confined(catalog / "sub" / "inner.png", [catalog], LIMIT)
    assert "inner.png" not in {Path(p).name for p in seen}


def test_a_file_swapped_for_a_symlink_after_the_check_does_not_lead_out(layout, monkeypatch):
    catalog, outside = layout
    real_check = files_mod._check_before_open

    def check_then_swap(target, *args, **kwargs):
        real_check(target, *args, **kwargs)
        (catalog / "ok.png").unlink()
        (catalog / "ok.png").symlink_to(outside / "secret.png")

    monkeypatch.setattr(files_mod, "_check_before_open", check_then_swap)
    with pytest.raises(MediaError, match="symbolic link"):
        open_confined(catalog / "ok.png", [catalog], LIMIT)


def test_a_file_that_grows_past_the_limit_while_being_read_is_refused(layout):
    catalog, _ = layout
    path = catalog / "growing.wav"
    path.write_bytes(b"x" * 1000)
    with open_confined(path, [catalog], 1500) as media:
        with path.open("ab") as f:
            f.write(b"y" * 1000)
        with pytest.raises(MediaError, match="grew past"):
            media.sha256()


def test_paths_a_caller_chooses_are_still_regular_files_only(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    for path in (Path("/dev/zero"), tmp_path / "pipe.png", tmp_path):
        with pytest.raises(MediaError, match="not a regular file"):
            open_regular(path)
    result = MediaDescriber(MediaConfig(ocr=False)).describe_image(Path("/dev/zero"))
    assert result.error == "refused: a device, not a regular file" and result.sha256 == ""


def test_an_empty_file_is_refused_alike_by_every_decoder_whether_given_open_or_by_path(tmp_path):
    import io

    from llmrec.media.audio import load_audio
    from llmrec.media.image import load_image

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "empty.wav").write_bytes(b"")
    for decode, path in ((lambda s: load_image(s, 1_000_000), tmp_path / "empty.png"),
                         (lambda s: load_audio(s, 10.0), tmp_path / "empty.wav")):
        for source in (path, io.BytesIO(b"")):
            with pytest.raises(MediaError, match=r"^empty file \(0 bytes\)$"):
                decode(source)


def test_describing_a_file_over_max_file_mb_is_refused_before_reading(tmp_path):
    sparse_file(tmp_path / "big.png", 3 * 2**20)
    result = MediaDescriber(MediaConfig(ocr=False, max_file_mb=2)).describe_image(tmp_path / "big.png")
    assert result.error == "refused: 3.0 MiB, over the 2.0 MiB limit ([media] max_file_mb)"


def test_the_thirty_thousand_pixel_square_bomb_png_is_refused_from_its_header(tmp_path):
    path = bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 2**20
    result = MediaDescriber(MediaConfig(ocr=False)).describe_image(path)
    assert result.error is not None and result.error.startswith("image too large")


def test_relative_media_roots_are_a_config_error():
    with pytest.raises(ValueError, match="must be absolute folders"):
        MediaConfig(roots=["media"])
