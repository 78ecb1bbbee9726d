"""`[verify] after_run`: a run finishes with the structure check of its top designs."""

from __future__ import annotations

import pytest

from evodesign.campaign import Campaign


def _with_verify(config, **verify):
    return config.model_copy(update={"verify": config.verify.model_copy(update=verify)})


def test_run_ends_with_the_verify_verdicts(make_config, small_csv, cache_dir, tmp_path):
    pytest.importorskip("chgnet")
    pytest.importorskip("pyxtal")
    config = _with_verify(make_config(small_csv), after_run=True, top=1, n_structures=1, relax_steps=3, max_atoms=8)
    lines = []
    campaign = Campaign(config, out_root=tmp_path, cache_dir=cache_dir, progress=False)
    campaign._say = lines.append
    result = campaign.run(seed=0)
    assert {"verify_status", "e_form_chgnet", "spacegroup"} <= set(result.designs.columns)
    first = result.designs.iloc[0]
    assert first["verify_status"] in ("ok", "no_structure", "too_many_atoms", "timed_out", "failed")
    assert any(line.startswith("verify: done") for line in lines)
    # the campaign hash ignores [verify]: the same run without it resumes from this checkpoint
    assert config.hash() == make_config(small_csv).hash()


def test_verify_is_off_unless_asked(make_config, small_csv, cache_dir, tmp_path):
    result = Campaign(make_config(small_csv), out_root=tmp_path, cache_dir=cache_dir, progress=False).run(seed=0)
    assert "verify_status" not in result.designs.columns
    assert not (result.run_dir / "structures").exists()
