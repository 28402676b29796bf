# Sourced by the time-boxed GPU-call scripts (cuda_round.sh, tp_round.sh) once they have
# set START (date +%s when the call began), DEADLINE (seconds for the whole call) and SUM
# (their summary log).
# log MESSAGE: one line with the seconds since START, to stdout and SUM.
log() { echo "== [$(($(date +%s) - START)) s] $*" | tee -a "$SUM"; }
# box CAP: seconds for a step: CAP, or what is left before the deadline (minus a margin),
# at least 1.
box() {
  local left=$((DEADLINE - ($(date +%s) - START) - 10))
  left=$((left < $1 ? left : $1))
  echo $((left < 1 ? 1 : left))
}
