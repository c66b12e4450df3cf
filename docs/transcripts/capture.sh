#!/usr/bin/env bash
# Capture what a run prints on a real 120-column terminal (tmux), as docs/transcripts/*.txt.
#   docs/transcripts/capture.sh passing   # pytest suites/upgrade_stable on the embedded simulator
#   docs/transcripts/capture.sh failing   # the same with a 2 s A0 route outage at the start of D3
# Run from the checkout with its virtual environment active. The failing run starts a
# simulator of its own (python -m simulator serve) and injects the outage through the
# simulator's fault endpoint with the project's test plugin (tests/suite/faultplugin.py).
set -euo pipefail
kind=${1:?passing or failing}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'tmux -L transcript kill-server 2>/dev/null || true; [ -n "${sim:-}" ] && kill "$sim" 2>/dev/null; rm -rf "$work"' EXIT
cmd="pytest suites/upgrade_stable --artifacts $work/artifacts --state-dir $work/state"
if [ "$kind" = failing ]; then
  python -m simulator serve --config-out "$work/sim.yml" --state-dir "$work/sim" >"$work/sim.log" 2>&1 &
  sim=$!
  for _ in $(seq 120); do [ -s "$work/sim.yml" ] && break; sleep 0.5; done
  faults='[{"at": "upgrade D3", "kind": "route_outage", "target": "{a0}", "duration": 2, "params": {"status": 502}}]'
  cmd="PYTHONPATH=tests/suite SUITE_FAULTS='$faults' $cmd --config $work/sim.yml -p faultplugin"
fi
printf '%s\n' "$cmd" 'echo "exit status $?"' "tmux -L transcript wait-for -S done" >"$work/run.sh"
printf '%s\n' 'set -g history-limit 50000' 'set -g remain-on-exit on' 'set -g status off' >"$work/tmux.conf"
tmux -L transcript -f "$work/tmux.conf" new-session -d -s t -x 120 -y 50 -c "$repo" "bash $work/run.sh"
tmux -L transcript wait-for done
{
  echo "\$ $cmd"
  tmux -L transcript capture-pane -p -t t -S - -E - | sed -e 's/[[:space:]]*$//' -e '/^Pane is dead/d' | cat -s
} | sed -e "s#$work#/tmp/run#g" \
  >"$repo/docs/transcripts/$kind.txt"
echo "wrote docs/transcripts/$kind.txt"
