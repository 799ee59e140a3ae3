import numpy as np
import torch

from vaebench.losses import gaussian_kl, gaussian_recon, kl_per_dim, mmd


def test_kl_matches_the_closed_form_and_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 50, 2, generator=g), torch.randn(3, 50, 2, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    want = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), want)
    # the FACTS closed form: mean Φ⁻¹-like means with var 1 and fixed σ = 0.1 pays ≈ σ² − 2 ln σ in 2-D
    sigma = 0.1
    kl = kl_per_dim(torch.zeros(1, 1, 2), torch.full((1, 1, 2), 2 * np.log(sigma))).sum()
    assert abs(kl.item() - (sigma**2 - 1 - 2 * np.log(sigma))) < 1e-5


def test_recon_is_sse_over_two_sigma_squared():
    x, r = torch.zeros(2, 4, 2), torch.ones(2, 4, 2)
    torch.testing.assert_close(gaussian_recon(x, r, torch.tensor([0.5, 1.0])), torch.tensor([2.0, 1.0]))


def _mmd_reference(a, b, kernel):
    # direct transcription of Gretton et al. 2012, eq. 3 (unbiased MMD²), double loops in NumPy
    n, m = len(a), len(b)
    kaa = sum(kernel(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kbb = sum(kernel(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kab = sum(kernel(a[i], b[j]) for i in range(n) for j in range(m)) / (n * m)
    return kaa + kbb - 2 * kab


def test_mmd_matches_a_direct_transcription():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(12, 3)), rng.normal(1.0, 1.0, size=(9, 3))
    d = 3
    imq = lambda x, y: 2 * d / (2 * d + np.sum((x - y) ** 2))  # noqa: E731
    rbf = lambda x, y: np.exp(-np.sum((x - y) ** 2) / (2 * d))  # noqa: E731
    for name, k in (("imq", imq), ("rbf", rbf)):
        got = mmd(torch.tensor(a[None]), torch.tensor(b[None]), kernel=name).item()
        assert abs(got - _mmd_reference(a, b, k)) < 1e-10


def test_mmd_of_two_samples_of_one_distribution_is_near_zero_and_far_from_a_shift():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(1, 2000, 2, generator=g), torch.randn(1, 2000, 2, generator=g)
    same, shifted = mmd(a, b).item(), mmd(a, b + 1.0).item()
    assert abs(same) < 2e-3 < 0.05 < shifted
