"""Seeds derived from seeds (vaebench.seeding.derive_seed), the one derivation that run streams and the
metrics' sub-streams share: its values are NumPy SeedSequence's, so stored metrics keep their values."""

import numpy as np

from vaebench.metrics.suite import Context
from vaebench.seeding import STREAMS, derive_seed, stream_seed


def test_derived_seeds_are_seedsequence_words_and_keep_their_values():
    for seed in (0, 1, 7, 2**40 + 3):
        for key in range(8):
            state = np.random.SeedSequence([seed, key])
            assert derive_seed(seed, key) == int(state.generate_state(1)[0])  # a 32-bit word
            assert derive_seed(seed, key, wide=True) == int(state.generate_state(1, np.uint64)[0] >> 1)
        for name, key in STREAMS.items():
            assert stream_seed(seed, name) == derive_seed(seed, key, wide=True) < 2**63
        assert Context({}, None, 0.5, seed).seed_for(3) == derive_seed(seed, 3) < 2**32
    assert derive_seed(0, 0) == 2968811710  # pinned: stored metrics depend on it
