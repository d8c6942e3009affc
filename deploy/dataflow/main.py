"""Dataflow Flex Template entry point: build Wirewatch's graph from the template parameters and submit it.

The launcher runs this file ($FLEX_TEMPLATE_PYTHON_PY_FILE in the image) with every template
parameter as `--name=value` beside Dataflow's own options (--project, --region, --temp_location,
--sdk_container_image, …). It submits the job and returns; Dataflow runs it. With Beam's
`--streaming` it builds the feed-polling graph of `wirewatch stream`, otherwise the batch graph of
`wirewatch run`: the same `build()` the CLI uses, so every transform is the tested one.

Secrets never travel as parameters. The pipeline reads Elasticsearch's URL and API key from
ELASTICSEARCH_URL and ELASTICSEARCH_API_KEY; when the launcher's environment lacks them, they are
read here from Secret Manager: the secrets `wirewatch-elasticsearch-url` and
`wirewatch-elasticsearch-api-key` of the job's project (latest version), or the secret versions
named by WIREWATCH_ES_URL_SECRET / WIREWATCH_ES_API_KEY_SECRET.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, MutableMapping, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from connectors.es_client import API_KEY_ENV, URL_ENV
from pipelines.ingest import build
from pipelines.options import load_config
from schemas.errors import ConfigError

# Environment variable → (secret id in the job's project, variable naming another secret version).
SECRETS: dict[str, tuple[str, str]] = {
    URL_ENV: ("wirewatch-elasticsearch-url", "WIREWATCH_ES_URL_SECRET"),
    API_KEY_ENV: ("wirewatch-elasticsearch-api-key", "WIREWATCH_ES_API_KEY_SECRET"),
}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})

_log = logging.getLogger("wirewatch.dataflow")


def boolean_flags() -> frozenset[str]:
    """Every on/off flag Beam and Wirewatch define (--streaming, --no-alerts, …)."""
    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False, conflict_handler="resolve")
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    return frozenset(
        option
        for action in parser._actions
        if isinstance(action, argparse._StoreTrueAction)
        for option in action.option_strings
        if option.startswith("--")
    )


def normalize_booleans(argv: Sequence[str], flags: frozenset[str]) -> list[str]:
    """The launcher passes `--no-alerts=true`; argparse wants `--no-alerts`, or nothing for false."""
    out: list[str] = []
    for arg in argv:
        name, has_value, value = arg.partition("=")
        if not has_value or name not in flags:
            out.append(arg)
        elif value.strip().lower() in _TRUE:
            out.append(name)
        elif value.strip().lower() not in _FALSE:
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return out


def read_secret(version_name: str) -> str:
    """One Secret Manager secret version (Beam's client; google-cloud-secret-manager is in the image)."""
    from apache_beam.utils.secret import GcpSecret

    return GcpSecret(version_name).get_str().strip()


def load_secrets(
    project: str | None,
    env: MutableMapping[str, str],
    fetch: Callable[[str], str] = read_secret,
) -> None:
    """Put the Elasticsearch URL and API key into `env` from Secret Manager, unless already set."""
    for variable, (secret_id, override) in SECRETS.items():
        if env.get(variable, "").strip():
            continue
        version = env.get(override, "").strip()
        if not version:
            if not project:
                raise ConfigError(f"{variable}: not set, and no --project to find secret {secret_id} in")
            version = f"projects/{project}/secrets/{secret_id}/versions/latest"
        env[variable] = fetch(version)  # the value is never logged


def build_job(
    argv: Sequence[str],
    *,
    env: MutableMapping[str, str],
    fetch: Callable[[str], str] = read_secret,
) -> beam.Pipeline:
    """The validated pipeline, built but not run; raises ConfigError naming the parameter."""
    options = PipelineOptions(normalize_booleans(argv, boolean_flags()))
    load_secrets(options.view_as(GoogleCloudOptions).project, env, fetch)
    config = load_config(options, env=env)
    if config.elasticsearch is None:
        raise ConfigError("Dataflow workers cannot share the embedded store: set the Elasticsearch secrets")
    streaming = bool(options.view_as(StandardOptions).streaming)
    if streaming and not config.feeds:
        raise ConfigError("a streaming job polls feeds: pass the feeds parameter (a catalog in the image)")
    pipeline = beam.Pipeline(options=options)
    build(pipeline, config, streaming=streaming)
    return pipeline


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    try:
        pipeline = build_job(sys.argv[1:] if argv is None else argv, env=os.environ)
    except ConfigError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 2
    result = pipeline.run()  # the launcher's part ends once Dataflow has the job
    _log.info("submitted; state %s", result.state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
