"""Images become facts and OCR text; bad image files are recorded, never raised."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from llmrec.config import MediaConfig
from llmrec.media import MediaDescriber, MediaText, file_sha256

DARK_BLUE = (20, 30, 120)
ORANGE = (255, 140, 0)


def facts_only() -> MediaDescriber:
    """A describer that needs no model at all: visual facts only."""
    return MediaDescriber(MediaConfig(ocr=False, image_classes=False))


# ---------------------------------------------------------------------------------------------------- visual facts


def test_size_and_orientation_are_reported(draw_image):
    result = facts_only().describe_image(draw_image(size=(185, 278)))
    assert result.error is None
    assert "portrait 185x278 px" in result.facts


def test_landscape_and_square_are_named(draw_image):
    assert "landscape 300x200 px" in facts_only().describe_image(draw_image("wide.png", size=(300, 200))).facts
    assert "square 120x120 px" in facts_only().describe_image(draw_image("sq.png", size=(120, 120))).facts


def test_two_dominant_colours_are_named_largest_first(draw_image):
    # Left 60 % dark blue, right 40 % orange.
    path = draw_image(size=(200, 100), background=ORANGE, blocks=[((0, 0, 119, 99), DARK_BLUE)])
    assert "dominant colours: dark blue, orange" in facts_only().describe_image(path).facts


def test_dark_image_is_called_dark(draw_image):
    facts = facts_only().describe_image(draw_image(background=(15, 15, 25))).facts
    assert "dark image" in facts
    assert "bright image" not in facts


def test_white_page_is_bright_and_greyscale(draw_image):
    facts = facts_only().describe_image(draw_image(background=(250, 250, 250))).facts
    assert "bright image" in facts
    assert "mostly greyscale" in facts
    assert "dominant colours: white" in facts


def test_transparent_png_is_composited_on_white_and_reported(tmp_path):
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (25, 25, 75, 75))
    image.save(path)
    facts = facts_only().describe_image(path).facts
    assert "transparent background" in facts
    assert any(f.startswith("dominant colours: white") and "red" in f for f in facts)


def test_sixteen_bit_greyscale_png_is_described(tmp_path):
    path = tmp_path / "depth.png"
    Image.new("I;16", (64, 48), 40_000).save(path)
    result = facts_only().describe_image(path)
    assert result.error is None
    assert "landscape 64x48 px" in result.facts


def test_exif_rotation_is_applied_before_measuring_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.new("RGB", (300, 200), (90, 90, 90)).save(path, exif=exif)
    assert "portrait 200x300 px" in facts_only().describe_image(path).facts


def test_animated_gif_reports_its_frames(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (40, 40), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert "animated, 3 frames" in facts_only().describe_image(path).facts


# ------------------------------------------------------------------------------------------------------------- OCR


def test_ocr_reads_large_clear_text(describer, draw_image):
    path = draw_image("title.png", size=(720, 400), text="DRAGONS IN THE SNOW")
    text = describer.describe_image(path).text
    assert text is not None
    # The packaged recogniser may drop a space between big capitals ("DRAGONSIN"); the words must be there.
    for word in ("DRAGONS", "THE", "SNOW"):
        assert word in text.upper()


def test_ocr_finds_no_text_in_a_plain_picture(describer, draw_image):
    path = draw_image("plain.png", background=(30, 90, 160), blocks=[((40, 40, 160, 160), ORANGE)])
    assert describer.describe_image(path).text is None


def test_ocr_can_be_switched_off(draw_image):
    path = draw_image("title.png", size=(720, 400), text="DRAGONS IN THE SNOW")
    assert facts_only().describe_image(path).text is None


# ------------------------------------------------------------------------------------------------------- bad files


def test_zero_byte_jpg_is_recorded_not_raised(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    result = facts_only().describe_image(path)
    assert result.error == "empty file (0 bytes)"
    assert result.sha256 == file_sha256(path)
    assert result.facts == [] and result.text is None


def test_text_file_named_jpg_is_recorded_not_raised(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    assert facts_only().describe_image(path).error == "not an image: cannot identify image file"


def test_corrupt_image_is_recorded_not_raised(tmp_path, draw_image):
    whole = draw_image("photo.jpg", size=(400, 300), background=DARK_BLUE).read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    error = facts_only().describe_image(path).error
    assert error is not None and "truncated" in error


def test_missing_file_is_recorded_not_raised(tmp_path):
    result = facts_only().describe_image(tmp_path / "nope.png")
    assert result.error == "file not found"
    assert result.sha256 == ""


def test_image_over_max_pixels_is_rejected_before_decoding(draw_image):
    path = draw_image("big.png", size=(2000, 1000))
    result = MediaDescriber(MediaConfig(ocr=False, max_image_pixels=1_000_000)).describe_image(path)
    assert result.error is not None
    assert result.error.startswith("image too large: 2000x1000 = 2,000,000 pixels")


def test_decompression_bomb_is_recorded_not_raised(tmp_path):
    # 200 M pixels of 1-bit PNG is a few kilobytes on disk: above Pillow's own hard limit (2 x 89 M pixels).
    path = tmp_path / "bomb.png"
    Image.new("1", (20_000, 10_000)).save(path)
    result = MediaDescriber(MediaConfig(ocr=False, max_image_pixels=10**9)).describe_image(path)
    assert result.error is not None and result.error.startswith("image too large")


# ---------------------------------------------------------------------------------------------------- the contract


def test_unconfigured_models_are_notices_not_errors(draw_image):
    result = facts_only().describe_image(draw_image())
    assert result.error is None
    assert "open_clip tags skipped: no clip_model configured" in result.notices
    assert "caption skipped: no captioner_model configured" in result.notices
    assert result.tags == [] and result.caption is None


def test_result_round_trips_through_json(draw_image):
    result = facts_only().describe_image(draw_image())
    assert MediaText.model_validate_json(result.model_dump_json()) == result


def test_sha256_identifies_the_file_bytes(draw_image):
    path: Path = draw_image()
    assert facts_only().describe_image(path).sha256 == file_sha256(path)
    assert len(file_sha256(path)) == 64
