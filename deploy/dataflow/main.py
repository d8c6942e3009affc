"""Dataflow Flex Template entry point: build Wirewatch's graph from the template parameters and submit it.

The launcher runs this file ($FLEX_TEMPLATE_PYTHON_PY_FILE in the image) with every template
parameter as `--name=value` beside Dataflow's own options (--project, --region, --temp_location,
--sdk_container_image, …). It submits the job and returns; Dataflow runs it. With Beam's
`--streaming` it builds the feed-polling graph of `wirewatch stream`, otherwise the batch graph of
`wirewatch run`: the same `build()` the CLI uses, so every transform is the tested one.

Secrets never travel as parameters, nor in the job. Dataflow's workers get nothing of the
launcher's environment, so the API key reaches them by name: the launcher sets
ELASTICSEARCH_API_KEY_SECRET to the Secret Manager secret version holding it, the graph's
EsEndpoint carries that name, and every worker fetches the key itself in setup() (as the service
account the job runs as, which needs roles/secretmanager.secretAccessor). The launcher reads the
version once too, so a wrong name or a missing permission fails the launch rather than every
worker. The URL is fetched here into ELASTICSEARCH_URL: it goes into the graph anyway. By default
both are the secrets `wirewatch-elasticsearch-url` and `wirewatch-elasticsearch-api-key` of the
job's project (latest version); WIREWATCH_ES_URL_SECRET / WIREWATCH_ES_API_KEY_SECRET name other
versions, and a launcher environment that has ELASTICSEARCH_URL, or ELASTICSEARCH_API_KEY / _FILE /
_SECRET, is left as it is.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from connectors.es_client import (
    API_KEY_ENV,
    API_KEY_FILE_ENV,
    API_KEY_SECRET_ENV,
    URL_ENV,
    SecretFetch,
    check_secret_version,
    fetch_secret_version,
)
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


def _version(project: str | None, env: Mapping[str, str], variable: str) -> str:
    """The secret version holding `variable`'s value: the one its override names, else the latest of
    the secret of that name in the job's project."""
    secret_id, override = SECRETS[variable]
    named = env.get(override, "").strip()
    if named:
        return check_secret_version(override, named)
    if not project:
        raise ConfigError(f"{variable}: not set, and no --project to find secret {secret_id} in")
    return f"projects/{project}/secrets/{secret_id}/versions/latest"


def load_secrets(
    project: str | None, env: MutableMapping[str, str], fetch: SecretFetch | None = None
) -> None:
    """Fetch the Elasticsearch URL into `env`, and put the API key's secret version *name* there
    (ELASTICSEARCH_API_KEY_SECRET) for the workers to fetch; each unless `env` has one already.
    `fetch` reads a secret version (default: Beam's GcpSecret)."""
    if not env.get(URL_ENV, "").strip():
        env[URL_ENV] = fetch_secret_version(URL_ENV, _version(project, env, URL_ENV), fetch)  # never logged
    if not any(env.get(name, "").strip() for name in (API_KEY_ENV, API_KEY_FILE_ENV, API_KEY_SECRET_ENV)):
        env[API_KEY_SECRET_ENV] = _version(project, env, API_KEY_ENV)


def build_job(
    argv: Sequence[str],
    *,
    env: MutableMapping[str, str],
    fetch: SecretFetch | None = None,
) -> beam.Pipeline:
    """The validated pipeline, built but not run; raises ConfigError naming the parameter.

    `fetch` reads the URL's secret version; the API key's is read (once, as a check) by the
    settings load_config builds, with connectors.es_client.fetch_gcp_secret."""
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
