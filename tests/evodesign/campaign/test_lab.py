"""The lab's files: requests, measured.csv validation (errors name the line), loop data, round log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign.lab import (
    append_measurements,
    append_round_row,
    load_measurements,
    read_measurements,
    read_request,
    read_rounds,
    read_table,
    request_message,
    round_dir,
    write_request,
)
from evodesign.exceptions import DataError, UsageError

IDS = ["d1", "d2", "d3"]
TARGETS = ["k_xx", "k_yy"]


def _designs():
    return pd.DataFrame({"volume_fraction": [0.25, 0.5, 0.125], "formula": ["A", "B", "C"]})


def _images(n=3, seed=0):
    return (np.random.default_rng(seed).random((n, 4, 4)) < 0.5).astype(np.uint8)


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _measured(tmp_path, text):
    path = tmp_path / "measured.csv"
    path.write_text(text)
    return path


def test_round_dir_is_numbered_from_one(tmp_path):
    assert round_dir(tmp_path, 1) == tmp_path / "round-001"
    assert round_dir(tmp_path, 42).name == "round-042"
    with pytest.raises(UsageError, match="round must be an integer >= 1, got 0"):
        round_dir(tmp_path, 0)


def test_write_request_files_and_their_content(tmp_path):
    images = _images()
    folder = write_request(tmp_path, 2, IDS, _designs(), TARGETS, images=images)
    assert folder == tmp_path / "round-002"
    assert (folder / "to_measure.csv").read_text() == "id,volume_fraction,formula\nd1,0.25,A\nd2,0.5,B\nd3,0.125,C\n"
    assert (folder / "measured.csv.template").read_text() == "id,k_xx,k_yy\nd1,,\nd2,,\nd3,,\n"
    with np.load(folder / "designs.npz", allow_pickle=False) as data:
        assert data.files == ["images"]
        np.testing.assert_array_equal(data["images"], images)
        assert data["images"].dtype == np.uint8


def test_read_request_gives_back_what_was_written(tmp_path):
    designs = _designs().assign(volume_fraction=[1 / 3, 0.1 + 0.2, 2.0])
    write_request(tmp_path, 1, IDS, designs, TARGETS, images=_images())
    ids, back, images = read_request(tmp_path, 1)
    assert ids == IDS
    pd.testing.assert_frame_equal(back, designs, check_exact=True)
    np.testing.assert_array_equal(images, _images())
    write_request(tmp_path, 2, ["01", "1"], pd.DataFrame({"formula": ["NA", "Na"]}), ["band_gap"])
    ids, back, images = read_request(tmp_path, 2)
    assert ids == ["01", "1"] and back["formula"].tolist() == ["NA", "Na"] and images is None
    with pytest.raises(DataError, match=r"round-003/to_measure.csv not found: round 3 was never requested"):
        read_request(tmp_path, 3)


def test_read_table_keeps_formulas_pandas_would_call_missing(tmp_path):
    # the composition loop bench crashed when SBX/PM proposed sodium nitride: pandas' default
    # reading turns "NaN" into a float NaN, and the formula was gone
    table = pd.DataFrame({"formula": ["NaN", "NA", "None", "NaCl"], "predicted_band_gap": [0.1, 0.2, np.nan, 1 / 3]})
    write_request(tmp_path, 1, ["1", "2", "3", "4"], table, ["band_gap"])
    back = read_table(tmp_path / "round-001" / "to_measure.csv")
    assert back["formula"].tolist() == ["NaN", "NA", "None", "NaCl"]
    assert back["id"].tolist() == ["1", "2", "3", "4"]
    assert np.isnan(back["predicted_band_gap"][2]) and back["predicted_band_gap"][3] == 1 / 3  # round trip


def test_write_request_is_idempotent_and_refuses_other_content(tmp_path):
    write_request(tmp_path, 1, IDS, _designs(), TARGETS, images=_images())
    before = _snapshot(tmp_path)
    write_request(tmp_path, 1, IDS, _designs(), TARGETS, images=_images())  # resume after a kill
    assert _snapshot(tmp_path) == before
    other = _designs().assign(volume_fraction=[0.25, 0.5, 0.75])
    with pytest.raises(DataError, match=r"round-001/to_measure.csv already exists with other designs"):
        write_request(tmp_path, 1, IDS, other, TARGETS, images=_images())
    with pytest.raises(DataError, match=r"round-001/designs.npz already exists with other images"):
        write_request(tmp_path, 1, IDS, _designs(), TARGETS, images=_images(seed=1))
    assert _snapshot(tmp_path) == before


def test_write_request_without_images_and_bad_arguments(tmp_path):
    folder = write_request(tmp_path, 1, ["7", "8"], pd.DataFrame({"formula": ["NaCl", "Na"]}), ["band_gap"])
    assert not (folder / "designs.npz").exists()
    assert (folder / "to_measure.csv").read_text() == "id,formula\n7,NaCl\n8,Na\n"
    with pytest.raises(UsageError, match="repeated: d1"):
        write_request(tmp_path, 2, ["d1", "d1"], _designs().iloc[:2], TARGETS)
    with pytest.raises(UsageError, match=r"images must be an \(n, H, W\) array with n = 3"):
        write_request(tmp_path, 2, IDS, _designs(), TARGETS, images=_images(2))
    assert not round_dir(tmp_path, 2).exists()


def test_request_message_says_what_to_fill_and_how_to_resume(tmp_path):
    write_request(tmp_path, 3, IDS, _designs(), TARGETS, images=_images())
    text = request_message(tmp_path, 3, TARGETS, config="runs/microstructure.toml")
    folder = tmp_path / "round-003"
    assert f"Round 3: 3 design(s) to measure are listed in {folder / 'to_measure.csv'}" in text
    assert f"{folder / 'designs.npz'} (key 'images'" in text
    assert f"Write the measurements to {folder / 'measured.csv'}" in text
    assert "\n    id,k_xx,k_yy\n" in text
    assert "A blank cell means a failed measurement" in text
    assert f"evodesign loop runs/microstructure.toml --evaluator lab --out {tmp_path} --resume" in text


def test_read_measurements_round_trip_with_failures(tmp_path):
    text = "id,k_yy,notes,k_xx\n d3 , 2.5 ,ok,1e1\n\nd1,,broke,NA\nd2,nan, ,-0.5\n"
    path = _measured(tmp_path, text)
    frame = read_measurements(path, IDS, TARGETS)
    assert frame.index.tolist() == IDS and frame.index.name == "id"
    assert list(frame.columns) == TARGETS
    expected = np.array([[np.nan, np.nan], [-0.5, np.nan], [10.0, 2.5]])
    np.testing.assert_array_equal(frame.to_numpy(), expected)
    assert int(frame.isna().any(axis=1).sum()) == 2  # failed designs, counted
    assert int(frame.isna().to_numpy().sum()) == 3  # failed cells


def test_the_filled_in_template_reads_back(tmp_path):
    folder = write_request(tmp_path, 1, [10, 11], pd.DataFrame({"formula": ["A", "B"]}), ["band_gap"])
    template = (folder / "measured.csv.template").read_text()
    (folder / "measured.csv").write_text(template.replace("10,", "10,1.25"))
    frame = read_measurements(folder / "measured.csv", [10, 11], ["band_gap"])  # ids compared as strings
    assert frame.index.tolist() == ["10", "11"]
    assert frame["band_gap"].tolist()[0] == 1.25 and np.isnan(frame["band_gap"].tolist()[1])


def test_a_bom_and_windows_line_ends_are_read(tmp_path):
    path = tmp_path / "measured.csv"
    path.write_bytes("\ufeffid,k_xx,k_yy\r\nd1,1,2\r\nd2,3,4\r\nd3,5,6\r\n".encode())
    assert read_measurements(path, IDS, TARGETS).to_numpy().tolist() == [[1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,k_xx,k_yy\nd1,1,2\n", "line 1 (header): no 'id' column; the header must be id,k_xx,k_yy"),
        ("id;k_xx;k_yy\nd1;1;2\n", "no 'id' column (the cells must be separated by commas; this header looks ';'-separated)"),
        ("id,k_xx\nd1,1\nd2,2\nd3,3\n", "line 1 (header): missing target column(s) k_yy; the header must be id,k_xx,k_yy"),
        ("id,k_xx,k_yy,k_xx\nd1,1,2,3\n", "line 1 (header): column(s) k_xx appear more than once"),
        ("", "is empty; its first line must be the header id,k_xx,k_yy"),
        ("id,k_xx,k_yy\nd1,1,2\nd2,1,2\nd9,1,2\nd3,1,2\n", "line 4: id 'd9' was not requested (requested ids: d1, d2, d3)"),
        ("id,k_xx,k_yy\nd1,1,2\n\nd2,1,2\nd1,1,2\nd3,1,2\n", "line 5: id 'd1' appears twice (lines 2 and 5)"),
        ("id,k_xx,k_yy\nd1,1,2\nd3,1,2\n", "no row for requested id(s) d2; add a row with blank cells to record a failed"),
        ("id,k_xx,k_yy\nd1,1,2\nd2,1,high\nd3,1,2\n", "line 3, column k_yy: 'high' is not a number"),
        ('id,k_xx,k_yy\nd1,1,2\nd2,"1,5",2\nd3,1,2\n', "line 3, column k_xx: '1,5' is not a number (use a point as the decimal mark)"),
        ("id,k_xx,k_yy\nd1,1,2\nd2,1,2\nd3,inf,2\n", "line 4, column k_xx: an infinite value is not a measurement"),
        ("id,k_xx,k_yy\nd1,1,2\nd2,1e999,2\nd3,1,2\n", "line 3, column k_xx: '1e999' overflows a float"),
        ("id,k_xx,k_yy\nd1,1,2\nd2,1_000,2\nd3,1,2\n", "line 3, column k_xx: '1_000' is not a number"),
        ("id,k_xx,k_yy\nd1,1\nd2,1,2\nd3,1,2\n", "line 2: 2 cells but the header has 3; write an empty cell"),
        ("id,k_xx,k_yy\nd1,1,2,3\nd2,1,2\nd3,1,2\n", "line 2: 4 cells but the header has 3"),
        ("id,k_xx,k_yy\n,1,2\nd1,1,2\nd2,1,2\nd3,1,2\n", "line 2: empty id"),
    ],
)
def test_bad_measurement_files_are_refused_naming_the_line(tmp_path, text, message):
    path = _measured(tmp_path, text)
    before = _snapshot(tmp_path)
    with pytest.raises(DataError) as error:
        read_measurements(path, IDS, TARGETS)
    assert str(path) in str(error.value)
    assert message in str(error.value)
    assert _snapshot(tmp_path) == before  # nothing changed


def test_a_quoted_multiline_note_keeps_the_line_numbers_right(tmp_path):
    path = _measured(tmp_path, 'id,k_xx,k_yy,notes\nd1,1,2,"two\nlines"\nd2,x,2,\nd3,1,2,\n')
    with pytest.raises(DataError, match="line 4, column k_xx: 'x' is not a number"):
        read_measurements(path, IDS, TARGETS)


def test_every_problem_is_listed(tmp_path):
    path = _measured(tmp_path, "id,k_xx,k_yy\nd1,a,2\nd1,1,2\nzz,1,2\n")
    with pytest.raises(DataError) as error:
        read_measurements(path, IDS, TARGETS)
    text = str(error.value)
    assert "4 problem(s), nothing was recorded" in text
    assert "line 2, column k_xx: 'a'" in text and "line 3: id 'd1' appears twice (lines 2 and 3)" in text
    assert "line 4: id 'zz' was not requested" in text and "no row for requested id(s) d2, d3" in text


def test_a_missing_file_names_the_template(tmp_path):
    folder = write_request(tmp_path, 1, IDS, _designs(), TARGETS)
    with pytest.raises(DataError, match=r"round-001/measured.csv not found: .*copy .*round-001/measured.csv.template"):
        read_measurements(folder / "measured.csv", IDS, TARGETS)
    with pytest.raises(DataError, match=r"other.csv not found: .*its header is id,k_xx,k_yy"):
        read_measurements(tmp_path / "other.csv", IDS, TARGETS)


def test_measurements_accumulate_with_images_and_round_trip_exactly(tmp_path):
    values1 = pd.DataFrame({"k_xx": [1 / 3, np.nan, 2.0], "k_yy": [0.1, np.nan, 7.0]}, index=pd.Index(IDS, name="id"))
    frame, images = append_measurements(tmp_path, 1, IDS, _designs(), values1.iloc[[2, 0, 1]], images=_images())
    assert images.shape == (3, 4, 4)
    ids2 = ["e1", "e2"]
    values2 = pd.DataFrame({"k_xx": [5.0, 6.0], "k_yy": [np.nan, 8.0]})
    append_measurements(tmp_path, 2, ids2, _designs().iloc[:2], values2, images=_images(2, seed=1))
    frame, images = load_measurements(tmp_path)
    assert list(frame.columns) == ["round", "id", "volume_fraction", "formula", "k_xx", "k_yy"]
    assert frame["round"].tolist() == [1, 1, 1, 2, 2] and frame["id"].tolist() == IDS + ids2
    # an exact float round trip, and the rows reordered to the ids' order
    assert frame["k_xx"].iloc[0] == 1 / 3
    np.testing.assert_array_equal(frame[["k_xx", "k_yy"]].to_numpy()[:3], values1.to_numpy())
    np.testing.assert_array_equal(images, np.concatenate([_images(), _images(2, seed=1)]))
    assert int(frame[["k_xx", "k_yy"]].isna().any(axis=1).sum()) == 2


def test_appending_a_round_twice_is_a_no_op_or_refused(tmp_path):
    values = pd.DataFrame({"k_xx": [1.0, 2.0, np.nan], "k_yy": [3.0, 4.0, np.nan]})
    append_measurements(tmp_path, 1, IDS, _designs(), values, images=_images())
    before = _snapshot(tmp_path)
    append_measurements(tmp_path, 1, IDS, _designs(), values, images=_images())
    assert _snapshot(tmp_path) == before
    with pytest.raises(DataError, match="already holds round 1 with other ids or values"):
        append_measurements(tmp_path, 1, IDS, _designs(), values.fillna(0.0), images=_images())
    with pytest.raises(DataError, match="round 2 has no images, unlike the rounds in"):
        append_measurements(tmp_path, 2, IDS, _designs(), values)
    with pytest.raises(DataError, match=r"has columns .*; round 2 has"):
        append_measurements(tmp_path, 2, IDS, _designs()[["formula"]], values, images=_images())
    assert _snapshot(tmp_path) == before


def test_an_append_killed_between_the_npz_and_the_csv_is_redone(tmp_path):
    values = pd.DataFrame({"k_xx": [1.0, 2.0, 3.0], "k_yy": [3.0, 4.0, 5.0]})
    append_measurements(tmp_path, 1, IDS, _designs(), values, images=_images())
    csv_round1 = (tmp_path / "measurements.csv").read_bytes()
    append_measurements(tmp_path, 2, ["e1"], _designs().iloc[:1], values.iloc[:1], images=_images(1, seed=5))
    # the kill: round 2's npz is written, its csv (the commit marker) is not
    (tmp_path / "measurements.csv").write_bytes(csv_round1)
    frame, images = load_measurements(tmp_path)
    assert len(frame) == 3 and images.shape[0] == 3
    frame, images = append_measurements(tmp_path, 2, ["e1"], _designs().iloc[:1], values.iloc[:1], images=_images(1, seed=5))
    assert frame["id"].tolist() == IDS + ["e1"] and images.shape[0] == 4
    np.testing.assert_array_equal(images[3], _images(1, seed=5)[0])


def test_files_that_do_not_belong_together_are_refused(tmp_path):
    values = pd.DataFrame({"k_xx": [1.0, 2.0, 3.0], "k_yy": [3.0, 4.0, 5.0]})
    append_measurements(tmp_path, 1, IDS, _designs(), values, images=_images())
    table = tmp_path / "measurements.csv"
    table.write_text(table.read_text().replace("d2", "dX"))
    with pytest.raises(DataError, match=r"measurements.npz \(3 images\) does not match .*measurements.csv \(3 rows"):
        load_measurements(tmp_path)


def test_no_measurements_yet(tmp_path):
    frame, images = load_measurements(tmp_path)
    assert len(frame) == 0 and images is None
    assert len(read_rounds(tmp_path)) == 0


def test_rounds_log_appends_sorted_and_is_idempotent(tmp_path):
    first = {"round": 1, "n_measured": 8, "n_failed": 1, "best_k_xx": 4.25, "hypervolume": 0.1 + 0.2}
    append_round_row(tmp_path, first)
    append_round_row(tmp_path, {**first, "round": 3, "model_mae_k_xx": 0.5})
    append_round_row(tmp_path, {**first, "round": 2, "n_failed": np.int64(0)})
    before = _snapshot(tmp_path)
    log = append_round_row(tmp_path, dict(first))  # a resumed loop logs round 1 again
    assert _snapshot(tmp_path) == before
    assert log["round"].tolist() == [1, 2, 3] and log["n_failed"].tolist() == [1, 0, 1]
    assert log["hypervolume"].iloc[0] == 0.1 + 0.2
    assert np.isnan(log["model_mae_k_xx"].iloc[0]) and log["model_mae_k_xx"].iloc[2] == 0.5
    with pytest.raises(DataError, match="rounds.csv: round 2 is already logged with other values of n_measured"):
        append_round_row(tmp_path, {**first, "round": 2, "n_failed": 0, "n_measured": 9})
    with pytest.raises(UsageError, match="needs a 'round' key"):
        append_round_row(tmp_path, {"n_measured": 1})
    assert _snapshot(tmp_path) == before
    pd.testing.assert_frame_equal(read_rounds(tmp_path), log)


def test_a_lab_round_trip_at_the_file_level(tmp_path):
    """Round 1 requested, filled in by a script, read back after a 'restart', recorded, round 2 requested."""
    write_request(tmp_path, 1, IDS, _designs(), TARGETS, images=_images())
    ids, designs, images = read_request(tmp_path, 1)  # the resumed process knows only the files
    folder = round_dir(tmp_path, 1)
    lines = (folder / "measured.csv.template").read_text().splitlines()
    filled = [lines[0], lines[1].replace(",,", ",1.5,2.5"), lines[2], lines[3].replace(",,", ",3,4")]
    (folder / "measured.csv").write_text("\n".join(filled) + "\n")
    values = read_measurements(folder / "measured.csv", ids, TARGETS)
    frame, stored = append_measurements(tmp_path, 1, ids, designs, values, images=images)
    failed = int(values.isna().any(axis=1).sum())
    append_round_row(tmp_path, {"round": 1, "n_measured": len(ids), "n_failed": failed, "best_k_xx": values["k_xx"].max()})
    write_request(tmp_path, 2, ["e1"], _designs().iloc[:1], TARGETS, images=_images(1, seed=3))
    assert frame[["id", "k_xx"]].to_numpy().tolist()[::2] == [["d1", 1.5], ["d3", 3.0]]
    assert np.isnan(frame["k_xx"].iloc[1]) and failed == 1
    np.testing.assert_array_equal(stored, _images())
    assert read_rounds(tmp_path).to_dict("records") == [{"round": 1, "n_measured": 3, "n_failed": 1, "best_k_xx": 3.0}]
    assert (round_dir(tmp_path, 2) / "to_measure.csv").exists()
