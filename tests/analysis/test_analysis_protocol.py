"""The frozen protocol: loaded, validated, identified by its sha256, and its seeds kept apart."""

import hashlib
import tomllib
from pathlib import Path

import pytest

from analysis import protocol
from vaebench.grid import Grid

ROOT = Path(__file__).resolve().parents[2]
PROTO = protocol.load()


def _runs(name):
    return Grid.from_toml(ROOT / "grids" / name).configs()


def test_sha256_is_the_files_and_the_header_shows_the_protocol():
    assert PROTO.sha256 == hashlib.sha256(protocol.DEFAULT_PROTOCOL.read_bytes()).hexdigest()
    header = dict((row[0].text, row[1].text) for row in protocol.protocol_header(PROTO, 128).rows)
    assert header["sha256"] == PROTO.sha256 and header["version"] == "2"
    assert header["frozen"] == PROTO.meta["frozen"] and "1000–1007" in header["pilot seeds"]
    assert "λ_g = 0.0005 (λ·B = 0.064)" in header["calibrated cells"]
    assert len(PROTO.deviations) >= 10


def test_no_confirmatory_cell_uses_a_pilot_seed_or_a_looked_at_seed():
    pilot, looked = set(PROTO.pilot_seeds), set(PROTO.looked_at)
    assert not (pilot & looked) and not (set(PROTO.confirmatory_seeds) & (pilot | looked))
    confirmatory = {cfg.seed for cfg in _runs("seed-figures.toml")}
    assert confirmatory <= set(PROTO.confirmatory_seeds)
    assert {cfg.seed for cfg in _runs("pilot.toml")} <= pilot


def test_every_cell_a_claim_reads_has_its_seeds_in_the_confirmatory_grid():
    have = {}
    for cfg in _runs("seed-figures.toml"):
        key = (cfg.variant, cfg.latent_dim, cfg.beta, cfg.l2, cfg.schedule, cfg.steps)
        have.setdefault(key, set()).add(cfg.seed)
    for claim in PROTO.claims:
        if claim.source == "closed_form":
            continue
        for spec in claim.parts:
            for cell in [spec.a, *([spec.b] if spec.b else []), *spec.doses]:
                key = tuple(cell[k] for k in ("variant", "latent_dim", "beta", "l2", "schedule", "steps"))
                assert set(claim.seeds) <= have.get(key, set()), (claim.key, key)


def _data():
    return tomllib.loads(protocol.DEFAULT_PROTOCOL.read_text())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["claim"][0]["part"][0].update(kind="abvoe"),
     "claim[0].part[0].kind = 'abvoe': must be one of ['above'"),
    (lambda d: d["claim"][1].update(seeds=8), "claim[1].seeds = 8: must be between protocol.min_seeds = 16"),
    (lambda d: d["claim"][2]["part"][0]["a"].update(l2="lambda_z"), "claim[2].part[0].a.l2 = 'lambda_z'"),
    (lambda d: d["claim"][0]["part"][0]["a"].update(steps="medium"), "a.steps = 'medium': must be one of"),
    (lambda d: d["protocol"].update(confirmatory_first=1003), "protocol.confirmatory_first = 1003"),
    (lambda d: d["protocol"].update(alpha=2), "protocol.alpha = 2: must be a number in"),
    (lambda d: d["claim"][3]["part"][0].update(where="flat"), "claim[3].part[0].where = 'flat'"),
    (lambda d: d["claim"][4]["part"][0].update(mode="ratio"), "claim[4].part[0].mode = 'ratio'"),
    (lambda d: d["claim"][0]["part"][0]["a"].update(colour=1),
     "claim[0].part[0].a.colour = 1: must be absent"),
    (lambda d: d["claim"][1].update(key="beta_edges"), "claim.key = "),
    (lambda d: d["claim"][0]["part"][0]["a"].update(beta=True),  # a bool is no number (True == 1)
     "claim[0].part[0].a.beta = True: must be a number"),
])
def test_a_bad_field_is_one_line_naming_it(edit, message):
    data = _data()
    edit(data)
    with pytest.raises(ValueError) as err:
        protocol.parse(data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_calibrated_names_resolve_to_the_pilots_values():
    bands = next(c for c in PROTO.claims if c.key == "bands")
    assert bands.parts[0].a["l2"] == PROTO.calibration["lambda_e"] == 3e-4
    diamond = next(c for c in PROTO.claims if c.key == "diamond")
    assert {s.a["steps"] for s in diamond.parts} == {PROTO.steps["long"]} == {30000}
    schedules = next(c for c in PROTO.claims if c.key == "schedules")
    assert {s.threshold for s in schedules.parts} == {PROTO.calibration["schedule_margin"]}
