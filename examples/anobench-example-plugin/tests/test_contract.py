from anobench_example import MedianDiff

from anobench.testing import parametrize_with_checks


@parametrize_with_checks([MedianDiff])
def test_mediandiff_passes_the_anobench_contract(check):
    check()  # one test item per rule: method:mediandiff-save-load, ...


def test_smoothing_spreads_the_map(tmp_path):
    from anobench.testing import toy_split

    split = toy_split(6, 6, size=32)
    sharp = MedianDiff(sigma=0.0).fit(split, split, _ctx(tmp_path))
    smooth = MedianDiff(sigma=2.0).fit(split, split, _ctx(tmp_path))
    a = sharp.predict(split.images, None).maps
    b = smooth.predict(split.images, None).maps
    assert b.std() < a.std()


def _ctx(path):
    from anobench.testing import make_context

    return make_context(path)
