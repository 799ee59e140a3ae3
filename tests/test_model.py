import numpy as np
import torch

from vaebench.model import MLPVAE, Layout, init_flat, mlp


def test_layout_of_the_seed_architecture():
    lay = Layout.build(2, 2, (30, 30), stochastic=True)
    # encoder 2→30→30→4, decoder 2→30→30→2
    assert lay.n_weights == (2 * 30 + 30 * 30 + 30 * 4) + (2 * 30 + 30 * 30 + 30 * 2)
    assert lay.n_params == lay.n_weights + (30 + 30 + 4) + (30 + 30 + 2)


def test_init_matches_nn_linear_bounds():
    lay = Layout.build(2, 2, (30, 30), stochastic=True)
    flat = init_flat(lay, np.random.default_rng(0))
    first = lay.encoder[1]  # 30 → 30: U(−1/√30, 1/√30)
    w = flat[first.w_at:first.w_at + 900]
    assert np.abs(w).max() <= 1 / np.sqrt(30) and np.abs(w).max() > 0.9 / np.sqrt(30)


def test_module_reproduces_the_stacked_forward():
    for stochastic, d in ((True, 2), (True, 1), (False, 3)):
        lay = Layout.build(2, d, (7, 5), stochastic)
        flats = torch.from_numpy(np.stack([init_flat(lay, np.random.default_rng(s)) for s in range(3)]))
        x = torch.rand(3, 40, 2)
        enc = mlp(flats, lay.encoder, x)
        dec = mlp(flats, lay.decoder, enc[..., :d])
        for m in range(3):
            model = MLPVAE.from_flat(d, (7, 5), stochastic, flats[m])
            mu, logvar = model.encode(x[m])
            torch.testing.assert_close(mu, enc[m, :, :d], atol=1e-6, rtol=1e-6)
            if stochastic:
                torch.testing.assert_close(logvar, enc[m, :, d:], atol=1e-6, rtol=1e-6)
            else:
                assert torch.isneginf(logvar).all()
            torch.testing.assert_close(model.decode(mu), dec[m], atol=1e-6, rtol=1e-6)
            assert isinstance(model, torch.nn.Module) and model(x[m]).shape == (40, 2)
