#!/bin/sh
# The image's entrypoint. One image plays several parts, told apart by the arguments it is given:
#
#   (no arguments)                  the Dataflow Flex Template launcher, which runs
#                                   $FLEX_TEMPLATE_PYTHON_PY_FILE (deploy/dataflow/main.py)
#   --id=… --control_endpoint=… …   a Beam SDK worker: Dataflow starts its workers this way
#   --worker_pool                   Beam's worker pool, the sidecar Flink's EXTERNAL environment calls
#   wirewatch-sdk-worker --id=… …   the PROCESS environment's boot command, as a TaskManager runs it
#   wirewatch ARGS | COMMAND ARGS   the CLI: `docker run IMAGE stream --feeds …` or `… wirewatch run …`
#   /path, python, sh, bash         that program (a shell for debugging, a script)
#
# Beam's boot program handles both worker cases; it must be what finally runs on a worker.
# BEAM_BOOT and TEMPLATE_LAUNCHER exist so the dispatch can be tested without the real programs.
set -eu
BEAM_BOOT="${BEAM_BOOT:-/opt/apache/beam/boot}"
TEMPLATE_LAUNCHER="${TEMPLATE_LAUNCHER:-/opt/google/dataflow/python_template_launcher}"

if [ "$#" -eq 0 ]; then
    exec "$TEMPLATE_LAUNCHER"
fi
case "$1" in
    -*) exec "$BEAM_BOOT" "$@" ;;
    wirewatch) shift; exec wirewatch "$@" ;;
    wirewatch-sdk-worker) exec "$@" ;;
    /* | python | python3 | sh | bash) exec "$@" ;;
    *) exec wirewatch "$@" ;;
esac
