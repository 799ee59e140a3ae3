import math

import pytest

from vaebench import RunConfig, list_variants


def test_defaults_follow_the_report():
    c = RunConfig()
    assert (c.dataset, c.n_train, c.hidden, c.lr, c.batch_size) == ("uniform", 10_000, (30, 30), 1e-3, 256)
    assert c.variant == "vae" and c.latent_dim == 2 and c.l2 == 0.0


def test_numbers_from_toml_are_accepted_in_their_natural_types():
    c = RunConfig(beta=1, hidden=[20, 10], steps=100.0)
    assert c.beta == 1.0 and isinstance(c.beta, float)
    assert c.hidden == (20, 10) and c.steps == 100


BAD = [
    ({"beta": -1.0}, "beta = -1.0: must be a finite number >= 0"),
    ({"beta": math.nan}, "beta = nan"),
    ({"beta": True}, "beta = True"),
    ({"beta": "0.1"}, "beta = '0.1'"),
    ({"latent_dim": 0}, "latent_dim = 0: must be an integer >= 1"),
    ({"steps": 0}, "steps = 0: must be an integer >= 1"),
    ({"steps": 1.5}, "steps = 1.5"),
    ({"lr": 0.0}, "lr = 0.0: must be a finite number > 0"),
    ({"hidden": {"a": 30}}, "hidden = {'a': 30}"),
    ({"hidden": [30, 0]}, "hidden = 0"),
    ({"hidden": 30}, "hidden = 30"),
    ({"variant": "vqvae"}, "variant = 'vqvae': must be one of"),
    ({"schedule": "cosine"}, "schedule = 'cosine': must be one of"),
    ({"dataset": "mnist"}, "dataset = 'mnist': must be one of"),
    ({"device": "tpu"}, "device = 'tpu': must be one of ['cpu', 'cuda', 'auto']"),
    ({"warmup": 0.0}, "warmup = 0.0"),
    ({"seed": -1}, "seed = -1"),
    ({"params": {"c_max": 1.0}}, "params.c_max = 1.0: unknown parameter of variant 'vae'"),
    ({"variant": "capacity", "params": {"c_max": -1.0}}, "params.c_max = -1.0: must be a number >= 0"),
    ({"variant": "capacity", "params": {"c_max": "big"}}, "params.c_max = 'big': must be a finite number"),
    ({"variant": "probit", "latent_dim": 1}, "latent_dim = 1: variant 'probit' needs latent_dim = 2"),
    ({"variant": "probit", "dataset": "ring"},
     "dataset = 'ring': variant 'probit' needs dataset = 'uniform'"),
]


@pytest.mark.parametrize("kwargs,message", BAD)
def test_invalid_values_name_field_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError) as err:
        RunConfig(**kwargs)
    assert message in str(err.value)


def test_variant_params_are_resolved_with_defaults():
    c = RunConfig(variant="capacity", params={"c_max": 10})
    assert c.params == {"c_max": 10.0, "c_warmup": 0.5}
    assert RunConfig(variant="vae").params == {}


def test_every_variant_constructs_with_defaults():
    for name in list_variants():
        assert RunConfig(variant=name).variant == name


def test_to_dict_round_trips():
    c = RunConfig(variant="free_bits", hidden=(8,), beta=0.3)
    assert RunConfig(**c.to_dict()) == c
