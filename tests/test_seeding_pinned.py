"""What a seed produces, pinned: the first values of every named stream of vaebench.seeding (computed
once and written here, and checked against NumPy's SeedSequence keyed (seed, stream index) directly), and
where a run's numbers come from: seed 0's initial weights from the ``init`` stream (not ``data``), its
evaluation set from the ``eval`` stream. Every other test compares two routes with each other; these fail
when a stream's key changes or a draw comes from the wrong stream."""

import numpy as np
import pytest
import torch

import vaebench
from vaebench import RunConfig
from vaebench.data import sample
from vaebench.evaluation import eval_arrays
from vaebench.seeding import STREAMS, stream_generator, stream_generator_seed, stream_rng, stream_seed

# (seed, stream): first three uniforms of stream_rng, stream_seed, stream_generator_seed, first two
# torch.randn of stream_generator (computed 2026-12-05 with numpy's PCG64 and torch's mt19937)
PINNED = {
    (0, "init"): ([0.636961687321, 0.269786713764, 0.040973523936], 7896617691693857887, 0,
                  [1.5409960746765137, -0.293428897857666]),
    (0, "data"): ([0.889738791278, 0.557138050206, 0.800908086892], 2918264622725855778, 2462723854,
                  [0.8717271685600281, 0.6563524007797241]),
    (0, "batches"): ([0.080824039173, 0.402437791994, 0.601289206238], 8597659618385908031, 1020716019,
                     [0.06893210858106613, 0.760053813457489]),
    (0, "noise"): ([0.89497274079, 0.860414436775, 0.321374822338], 3291213472928352369, 454327756,
                   [-0.5808629393577576, 0.005640245508402586]),
    (0, "prior"): ([0.883071935608, 0.228592671795, 0.410646595713], 2494635221133837528, 1275600319,
                   [0.5502018928527832, -2.9547951221466064]),
    (0, "eval"): ([0.382136101298, 0.547749060167, 0.411438137849], 6102389744414414618, 1215922603,
                  [0.6625780463218689, 1.0267536640167236]),
    (0, "metrics"): ([0.412092347502, 0.213295140191, 0.728758942562], 3656545308831359172, 3678440605,
                     [-0.7984236478805542, 1.1274781227111816]),
    (1, "init"): ([0.5118216247, 0.950463696326, 0.14415961272], 3717377837946358015, 1364076727,
                  [-0.6741311550140381, -1.8652949333190918]),
    (1, "data"): ([0.331872391868, 0.611895973646, 0.507632659892], 38901565946305238, 2527132011,
                  [-1.4388766288757324, 1.4178677797317505]),
    (1, "batches"): ([0.448415143332, 0.430881987544, 0.419999129392], 7764949442709860949, 314344336,
                     [-2.430786371231079, -1.207409381866455]),
    (1, "noise"): ([0.014068638777, 0.136608200572, 0.455954608907], 8789938331783242616, 2535364964,
                   [-2.6323931217193604, 0.22828291356563568]),
    (1, "prior"): ([0.394825154357, 0.850277537803, 0.922359797553], 839276039212745596, 2041432039,
                   [0.6917556524276733, 1.427739143371582]),
    (1, "eval"): ([0.385254798184, 0.918001917277, 0.869477908057], 7576354313457842240, 1495043544,
                  [-1.444814920425415, 0.5183023810386658]),
    (1, "metrics"): ([0.14412567502, 0.914618716245, 0.806809955435], 2551188552160700485, 3445983177,
                     [-1.6692851781845093, 0.37869691848754883]),
}
INDEX = {"init": 0, "data": 1, "batches": 2, "noise": 3, "prior": 4, "eval": 5, "metrics": 6}  # the docs'


def test_the_stream_names_and_indices_are_the_documented_ones():
    assert STREAMS == INDEX
    assert sorted({k for _, k in PINNED}) == sorted(STREAMS)


@pytest.mark.parametrize(("seed", "stream"), sorted(PINNED))
def test_each_stream_gives_its_pinned_first_values(seed, stream):
    uniforms, integer, gen_seed, normals = PINNED[seed, stream]
    assert stream_rng(seed, stream).random(3) == pytest.approx(uniforms, abs=1e-12)
    assert stream_seed(seed, stream) == integer
    assert stream_generator_seed(seed, stream) == gen_seed
    assert stream_generator(seed, stream).initial_seed() == gen_seed
    assert torch.randn(2, generator=stream_generator(seed, stream)).tolist() == normals


@pytest.mark.parametrize(("seed", "stream"), sorted(PINNED))
def test_each_stream_is_numpys_seed_sequence_of_seed_and_stream_index(seed, stream):
    """Independently of vaebench.seeding: PCG64 seeded by SeedSequence([seed, index]); the integer seed
    is its first 64-bit word shifted right by one (a non-negative int64)."""
    ss = np.random.SeedSequence([seed, INDEX[stream]])
    expected = np.random.Generator(np.random.PCG64(ss)).random(5)
    assert np.array_equal(stream_rng(seed, stream).random(5), expected)
    assert stream_seed(seed, stream) == int(ss.generate_state(1, np.uint64)[0]) >> 1 < 2**63


def test_streams_of_one_run_differ_and_runs_differ_in_every_stream():
    for seed in (0, 1, 12345):
        firsts = [stream_rng(seed, k).random() for k in STREAMS]
        assert len(set(firsts)) == len(STREAMS)
        assert len({stream_generator_seed(seed, k) for k in STREAMS}) == len(STREAMS)
    for k in STREAMS:
        assert len({stream_generator_seed(s, k) for s in range(20_000)}) == 20_000  # a bijection per stream
        assert len({stream_seed(s, k) for s in range(2_000)}) == 2_000


def _initial_weights(seed: int, stream: str, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """nn.Linear's default init, U(−1/√in, 1/√in), drawn per layer (weight [in, out] then bias) from
    SeedSequence([seed, index of stream]): the encoder's layers, then the decoder's."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, INDEX[stream]])))
    out = []
    for n_in, n_out in sizes:
        bound = 1.0 / np.sqrt(n_in)
        out.append(rng.uniform(-bound, bound, n_in * n_out).reshape(n_in, n_out).T.astype(np.float32))
        out.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    return out


@pytest.mark.parametrize("seed", [0, 3])
def test_initial_weights_come_from_the_init_stream_not_the_data_stream(seed):
    """One Adam step at lr 1e-12 moves no float32 weight of this size by a unit in its last place, so the
    trained model holds its initial weights."""
    cfg = RunConfig(n_train=64, steps=1, batch_size=16, hidden=[8], latent_dim=2, lr=1e-12, seed=seed)
    (res,) = vaebench.train([cfg])
    got = [p.detach().numpy() for p in res.model.parameters()]
    sizes = [(2, 8), (8, 4), (2, 8), (8, 2)]  # encoder 2→8→2·2, decoder 2→8→2
    assert [g.shape for g in got] == [s for n_in, n_out in sizes for s in ((n_out, n_in), (n_out,))]
    init = _initial_weights(seed, "init", sizes)
    assert all(np.allclose(g, w, rtol=0, atol=1e-9) for g, w in zip(got, init, strict=True))
    for other in ("data", "batches", "eval"):  # the same draws from another stream are far off
        wrong = _initial_weights(seed, other, sizes)
        assert all(np.abs(g - w).max() > 1e-2 for g, w in zip(got, wrong, strict=True)), other


def test_the_evaluation_set_comes_from_the_eval_stream():
    cfg = RunConfig(n_train=64, steps=1, batch_size=16, hidden=[8], seed=2)
    (res,) = vaebench.train([cfg])
    x = eval_arrays(res, 50)["x"]
    key = int(np.random.SeedSequence([2, INDEX["eval"]]).generate_state(1, np.uint64)[0]) >> 1
    assert np.array_equal(x, sample("uniform", 50, key))
    data_key = int(np.random.SeedSequence([2, INDEX["data"]]).generate_state(1, np.uint64)[0]) >> 1
    assert not np.allclose(x, sample("uniform", 50, data_key))
