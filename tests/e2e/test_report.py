"""Leaderboard statistics from real runs, and ``anobench report`` (opened in headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from anobench.api import registry
from anobench.cli import cli
from anobench.results.store import Store

from ..distributions import activate

TINY = ["--dataset-opt", "image_size=32", "--dataset-opt", "n_train=20",
        "--dataset-opt", "n_val=6", "--dataset-opt", "n_test=10"]  # fmt: skip
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _invoke(home, *args, ok=True):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def home(tmp_path_factory, testplugins_root):
    """meandiff (2 seeds) and zscore (3 seeds) on tiny synthetic data; brightness (trains, so it
    has curves) on toy data; one failed run with HTML in its error."""
    path = tmp_path_factory.mktemp("report") / "home"
    for method, seeds in (("meandiff", (0, 1)), ("zscore", (0, 1, 2))):
        for seed in seeds:
            _invoke(path, "-q", "run", "-m", method, "-d", "synthetic", "--seed", str(seed), *TINY)
    with pytest.MonkeyPatch.context() as mp:
        activate(mp, testplugins_root)
        _invoke(path, "-q", "run", "-m", "brightness", "-d", "toy", "--device", "cpu")
        _invoke(path, "-q", "run", "-m", "failing", "-d", "toy", "--device", "cpu", ok=False)
    registry.refresh()
    with Store(path / "store.sqlite") as store:
        failed = store.runs(status="failed")[0]
        store.end_run(failed.run_id, "failed", "<script>alert('x')</script> & more", {})
    return path


def test_leaderboard_statistics_from_stored_evidence(home):
    board = json.loads(
        _invoke(home, "leaderboard", "--format", "json", "--bootstrap", "300").stdout
    )
    synthetic = {r["method"]: r for r in board if r["dataset"] == "synthetic"}
    best, other = sorted(synthetic.values(), key=lambda r: r["rank"])
    assert best["p_note"] == "best" and other["p_test"] == "paired bootstrap"
    assert 0 < other["p_vs_best"] <= 1
    for rec in synthetic.values():
        for metric in ("pixel_ap", "pixel_auroc", "image_auroc", "pixel_dice"):
            low, mean, high = (rec[f"{metric}_{k}"] for k in ("ci_low", "mean", "ci_high"))
            assert low <= mean <= high, (rec["method"], metric)
        assert "20 test images resampled within each class" in rec["pixel_ap_ci_over"]
        assert rec["pixel_aupro_ci_low"] is None and rec["pixel_aupro_ci_note"]
    assert synthetic["meandiff"]["few_seeds"] and not synthetic["zscore"]["few_seeds"]
    md = _invoke(home, "leaderboard", "--format", "markdown").stdout
    assert "p vs best (paired bootstrap, Holm)" in md and "pixel_ap 95% CI" in md
    assert "pixel_dice_oracle (oracle) ↑" in md and "| 2 † |" in md
    # synthetic and toy are two dataset configurations: each method is ranked on one of them
    assert "### Average rank across datasets" in md and "| zscore (quick) | 1/2 |" in md
    csv = _invoke(home, "leaderboard", "--format", "csv", "--bootstrap", "0").stdout
    assert "pixel_ap_ci_low" in csv.splitlines()[0]
    rich = _invoke(home, "leaderboard", "--dataset", "synthetic", "--bootstrap", "200").stdout
    assert "95% CI" in rich and "paired bootstrap" in rich
    off = _invoke(home, "leaderboard", "--bootstrap", "0", "--format", "markdown").stdout
    assert "95% CI" not in off and "intervals off" in off


def _report(home, tmp_path, *args):
    out = tmp_path / "report"
    result = _invoke(home, "report", "--output", str(out), *args)
    return out, result


def test_report_has_tables_figures_provenance_and_escapes(home, tmp_path):
    out, result = _report(home, tmp_path)
    # 7 run figures and the 4 comparison plots of each of the two datasets
    assert "wrote" in result.stderr and "6 finished runs, 15 figures" in result.stderr
    page = (out / "index.html").read_text()
    assert page.count('<table class="leaderboard">') >= 3  # two datasets + average rank
    sources = re.findall(r'<img src="([^"]+)"[^>]*data-run=', page)
    # a panel for every finished run, curves only for the run that trained
    assert len(sources) == 6 + 1
    assert all(s.startswith("figures/") and (out / s).is_file() for s in sources)
    assert len(re.findall(r'<img src="figures/[^"]+"', _comparison(page))) == 2 * 4
    assert page.count("<details><summary>spec and provenance of run") == 6
    assert "no training curves (the method logged no training steps)" in page
    assert "Runs that did not finish" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    only = _report(home, tmp_path, "--method", "zscore")[0] / "index.html"
    assert "meandiff" not in only.read_text() and "zscore" in only.read_text()


def test_report_embeds_figures_as_data_uris(home, tmp_path):
    out, _ = _report(home, tmp_path, "--embed", "--dataset", "toy")
    page = (out / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    # a panel, training curves and the dataset's 4 comparison plots
    assert len(sources) == 2 + 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not (out / "figures").exists()


def test_report_of_an_empty_store(tmp_path):
    home = tmp_path / "empty"
    out = tmp_path / "out"
    result = _invoke(home, "report", "-o", str(out))
    assert "no finished runs yet" in result.stderr
    assert "no finished runs yet" in (out / "index.html").read_text()


def test_report_output_that_is_a_file_is_one_error(tmp_path):
    blocker = tmp_path / "file.html"
    blocker.write_text("x")
    result = _invoke(tmp_path / "h", "report", "-o", str(blocker), ok=False)
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert blocker.read_text() == "x"


def _comparison(page: str) -> str:
    return page.split('<section id="comparison">', 1)[1].split("</section>", 1)[0]


def _browser() -> str | None:
    return next((path for b in BROWSERS if (path := shutil.which(b))), None)


@pytest.mark.parametrize("embed", [False, True], ids=["copied", "embedded"])
def test_report_renders_in_headless_chromium(home, tmp_path, embed):
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no Chromium/Chrome on PATH (CI installs Debian's 'chromium'; locally:"
            " apt-get install chromium)"
        )
    out, _ = _report(home, tmp_path, *(["--embed"] if embed else []))
    dom = _headless(browser, tmp_path, "--dump-dom", (out / "index.html").as_uri()).stdout
    assert 'data-ready="true"' in dom, dom[:500]  # the page's load handler ran
    assert dom.count('<table class="leaderboard">') >= 3
    assert "p vs best (paired bootstrap, Holm)" in dom
    images = re.findall(r"<img [^>]*>", dom)
    assert len(images) == 7 + 2 * 4
    # every figure decoded to a real image (naturalWidth > 0) from file://
    assert all('data-loaded="true"' in img for img in images), images
    plots = re.findall(r"<img [^>]*>", _comparison(dom))
    assert len(plots) == 2 * 4 and all('data-loaded="true"' in img for img in plots), plots
    if embed:
        _check_zoom(browser, tmp_path, out)
    else:
        # the comparison section alone, for a person to look at
        page = (out / "index.html").read_text()
        alone = "<style>header,main>:not(#comparison){display:none}</style></head>"
        (out / "comparison.html").write_text(page.replace("</head>", alone, 1))
        shot = Path(tempfile.gettempdir()) / "report_comparison.png"
        shot.unlink(missing_ok=True)
        args = ("--window-size=1280,2900", "--hide-scrollbars", f"--screenshot={shot}")
        _headless(browser, tmp_path, *args, (out / "comparison.html").as_uri())
        assert shot.read_bytes().startswith(b"\x89PNG")


#: clicks the first embedded figure once the page loaded, and notes what the zoom view shows
CLICK = """<script>
window.addEventListener("load", function () {
  var link = document.querySelector("a.full[data-embedded]");
  link.click();
  var zoom = document.getElementById("zoom");
  var image = zoom.querySelector("img");
  image.decode().then(function () {
    var same = image.src === link.querySelector("img").src;
    document.body.dataset.zoomed = !zoom.hidden && same && image.naturalWidth > 0;
    zoom.click();
    document.body.dataset.closed = zoom.hidden;
  });
});
</script></body>"""


def _check_zoom(browser: str, tmp_path, out: Path) -> None:
    """A click on an embedded figure shows it at full resolution; a click on it closes it."""
    page = (out / "index.html").read_text()
    (out / "clicked.html").write_text(page.replace("</body>", CLICK, 1))
    dom = _headless(browser, tmp_path, "--dump-dom", (out / "clicked.html").as_uri()).stdout
    assert 'data-zoomed="true"' in dom and 'data-closed="true"' in dom, dom[-300:]


def _headless(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
