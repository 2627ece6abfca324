#!/usr/bin/env bash
# Regenerate a published leaderboard: run a suite into its own results home (finished runs are
# kept and skipped, so an interrupted regeneration resumes), then render its Markdown table
# with a header naming the machine, the versions and the date.
#
#   benchmarks/results/regenerate.sh [SUITE.toml] [anobench bench options...]
#   benchmarks/results/regenerate.sh                                  # synthetic-quick, --jobs 1
#   benchmarks/results/regenerate.sh benchmarks/synthetic-quick.toml --jobs 2
#   benchmarks/results/regenerate.sh benchmarks/synthetic-quick.toml --executor ray
#
# Writes benchmarks/results/<suite>.md and its comparison plots (forest plot of the primary
# metric, ROC / PR curves, score histograms; PNG and SVG) in benchmarks/results/<suite>/;
# the store lives in benchmarks/results/home/<suite>/
# (git-ignored; ANOBENCH_RESULTS_HOME overrides it). Delete that folder to start from scratch.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
suite="${1:-$root/benchmarks/synthetic-quick.toml}"
shift || true
name="$(basename "$suite" .toml)"
home="${ANOBENCH_RESULTS_HOME:-$root/benchmarks/results/home/$name}"
out="$root/benchmarks/results/$name.md"
plots="$root/benchmarks/results/$name"
command="benchmarks/results/regenerate.sh ${suite#"$root"/} $*"

status=0
anobench --home "$home" bench "$suite" "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    echo "regenerate: 'anobench bench' stopped (exit $status); nothing rendered" >&2
    exit "$status"
fi

table="$(mktemp)"
trap 'rm -f "$table"' EXIT
rm -rf "$plots"
anobench --home "$home" leaderboard --format markdown --output "$table" --plot "$plots"
python "$root/benchmarks/results/header.py" --suite "$suite" --home "$home" \
    --command "${command% }" > "$out"
cat "$table" >> "$out"
{
    echo
    echo "## Comparison plots"
    echo
    for png in "$plots"/*.png; do
        echo "![$(basename "$png" .png)]($name/$(basename "$png")) "
    done
} >> "$out"
echo "wrote $out" >&2
# failed runs are listed in the header; the exit code still says so
exit "$status"
