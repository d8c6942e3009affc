"""The container image, Compose file, Kubernetes manifests and Dataflow template, checked offline.

Nothing here builds an image or talks to a cluster: the files are validated against the schemas
their tools use (Kubernetes, the operators' CRDs, the Compose specification), against the
versions the project pins, and against Wirewatch's own CLI and options.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import shlex
import shutil
import stat
import subprocess
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from importlib import resources
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

import dockerfile  # type: ignore[import-not-found]  # a compiled module without stubs
import hcl2
import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    JobServerOptions,
    PipelineOptions,
    PortableOptions,
    _BeamArgumentParser,
)
from hcl2.utils import SerializationOptions

from connectors import es_client
from connectors.es_indices import IndexNames
from connectors.feed_catalog import load_catalog
from connectors.store import StoreError
from pipelines import cli, cli_kibana, flink, flink_jar
from pipelines.options import WirewatchOptions, check_known_flags, load_alert_rules
from schemas import actors
from schemas.errors import ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.sh"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "kubernetes"
SECRET_TEMPLATE = K8S / "secret-elasticsearch.template.yaml"
DATAFLOW = DEPLOY / "dataflow"
METADATA = DATAFLOW / "metadata.json"
TERRAFORM = DATAFLOW / "terraform"
FLINK_CRD = (
    pathlib.Path(__file__).resolve().parent / "crds" / "flinkdeployments.flink.apache.org-v1beta1.json"
)
POM = DEPLOY / "flink" / "pom.xml"
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
# The container of a Flink pod template that Flink itself fills in (image, command, resources).
FLINK_MAIN = "flink-main-container"

KUBERNETES_VERSION = "1.30"
BEAM_SDK_IMAGE = re.compile(r"^apache/beam_python(\d+\.\d+)_sdk:(.+)$")
# Options a Dataflow job cannot use: workers cannot share the embedded SQLite store, and the
# Elasticsearch URL is a credential (it may carry user:password), so it comes from Secret Manager.
NOT_TEMPLATE_PARAMETERS = {"--store", "--es-url"}
PARAM_TYPES: dict[object, str] = {int: "NUMBER", float: "NUMBER", str: "TEXT", bool: "BOOLEAN"}
# The variables of connectors/es_client.py, the keys of the Secret.
ES_VARIABLES = [
    es_client.URL_ENV,
    es_client.API_KEY_ENV,
    es_client.USERNAME_ENV,
    es_client.PASSWORD_ENV,
    es_client.CA_CERTS_ENV,
    es_client.VERIFY_CERTS_ENV,
]
SECRET_VARIABLES = (es_client.API_KEY_ENV, es_client.PASSWORD_ENV)
SECRET_FILE_VARIABLES = (es_client.API_KEY_FILE_ENV, es_client.PASSWORD_FILE_ENV)


# --- shared readers ----------------------------------------------------------------------------


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def _yaml_docs(path: pathlib.Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _manifest_files() -> list[pathlib.Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _objects() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in _manifest_files() for doc in _yaml_docs(path)]


def _object_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc['kind']}/{doc['metadata']['name']}"


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _objects() if doc["kind"] == kind]


def _one(kind: str) -> dict[str, Any]:
    (doc,) = _by_kind(kind)
    return doc


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _metadata() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(METADATA.read_text(encoding="utf-8"))
    return data


def _terraform() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    for path in sorted(TERRAFORM.glob("*.tf")):
        for key, value in hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=options).items():
            merged.setdefault(key, []).extend(value)
    return merged


def _wirewatch_actions() -> dict[str, argparse.Action]:
    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False)
    WirewatchOptions._add_argparse_args(parser)
    return {s: a for a in parser._actions for s in a.option_strings if s.startswith("--")}


def _beam_dests() -> set[str]:
    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False, conflict_handler="resolve")
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    return {a.dest for a in parser._actions}


def _dataflow_main() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wirewatch_dataflow_main", DATAFLOW / "main.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _local_es_version() -> str:
    text = (DEPLOY / "elasticsearch" / "local_es.py").read_text(encoding="utf-8")
    match = re.search(r'^DEFAULT_VERSION = "([^"]+)"', text, re.M)
    assert match, "deploy/elasticsearch/local_es.py has no DEFAULT_VERSION"
    return match[1]


def _pom_runner_flink_version() -> str:
    """The Flink version of the Beam runner deploy/flink/pom.xml builds the job server from."""
    root = ElementTree.parse(POM).getroot()
    artifacts = [a.text or "" for a in root.iterfind("m:dependencies/m:dependency/m:artifactId", POM_NS)]
    (runner,) = [a for a in artifacts if a.startswith("beam-runners-flink-")]
    return runner.removeprefix("beam-runners-flink-")


def _pom_jar_name() -> str:
    """The file `mvn package` writes to target/."""
    final_name = ElementTree.parse(POM).getroot().findtext("m:build/m:finalName", namespaces=POM_NS)
    assert final_name, "deploy/flink/pom.xml names no finalName"
    return f"{final_name}.jar"


def _stream_args() -> list[str]:
    args: list[str] = _one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def _flag(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"{name}=")]
    return value


# --- the Dockerfile ------------------------------------------------------------------------------


class _Stage:
    def __init__(self, image: str, name: str | None) -> None:
        self.image, self.name = image, name
        self.commands: list[dockerfile.Command] = []


def _substitute(text: str, args: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in args, f"Dockerfile uses ${name} without a default"
        return args[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def _stages() -> tuple[dict[str, str], list[_Stage]]:
    """The global ARG defaults and every stage with its image resolved."""
    commands = dockerfile.parse_file(str(DOCKERFILE))
    global_args: dict[str, str] = {}
    stages: list[_Stage] = []
    for command in commands:
        if command.cmd == "FROM":
            image = _substitute(command.value[0], global_args)
            name = command.value[2] if len(command.value) == 3 and command.value[1].upper() == "AS" else None
            stages.append(_Stage(image, name))
        elif stages:
            stages[-1].commands.append(command)
        elif command.cmd == "ARG":
            key, _, default = command.value[0].partition("=")
            global_args[key] = default
    return global_args, stages


def _runs(stage: _Stage, args: dict[str, str]) -> list[str]:
    return [_substitute(" ".join(c.value), args) for c in stage.commands if c.cmd == "RUN"]


def _copies(stage: _Stage) -> list[tuple[str | None, list[str], str]]:
    """(from-stage or None, sources, destination) of each COPY."""
    out = []
    for command in stage.commands:
        if command.cmd == "COPY":
            source_stage = next((f.split("=", 1)[1] for f in command.flags if f.startswith("--from=")), None)
            out.append((source_stage, list(command.value[:-1]), command.value[-1]))
    return out


def _workdir(stage: _Stage) -> str:
    (workdir,) = [c.value[0] for c in stage.commands if c.cmd == "WORKDIR"]
    return str(workdir)


def _env(stage: _Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for command in stage.commands:
        if command.cmd == "ENV":
            values = list(command.value)
            env.update(zip(values[::2], values[1::2], strict=True))
    return env


def _final() -> tuple[dict[str, str], _Stage]:
    args, stages = _stages()
    return args, stages[-1]


def test_the_image_is_beams_python_sdk_image_at_the_locked_beam_version():
    _, stages = _stages()
    beam = _lock_pins()["apache-beam"]
    final = stages[-1]
    assert final.image == f"apache/beam_python3.11_sdk:{beam}"
    for stage in stages:
        match = BEAM_SDK_IMAGE.match(stage.image)
        if match:
            assert match[2] == beam, f"stage {stage.name} uses Beam {match[2]}, requirements.lock pins {beam}"
    # Python of the image = the oldest Python the project supports (what CI and mypy target).
    (python,) = {m[1] for s in stages if (m := BEAM_SDK_IMAGE.match(s.image))}
    assert _project()["requires-python"] == f">={python}"


def test_the_image_installs_the_project_with_the_lock_as_constraints():
    args, final = _final()
    installs = [r for r in _runs(final, args) if "pip install" in r and "-c requirements.lock" in r]
    assert installs, "the final stage must `pip install -c requirements.lock` the project"
    assert re.search(r"pip install [^&]*-c requirements\.lock[^&]*(-e \.|\s\.)(\s|$)", installs[0])
    assert "pip check" in installs[0], "a conflict with the base image's packages must fail the build"
    copied = [src for _, sources, _ in _copies(final) for src in sources]
    assert {"requirements.lock", "pyproject.toml"} <= set(copied)


def test_the_compiled_tagger_is_built_in_a_rust_stage_and_installed():
    args, stages = _stages()
    (builder,) = [s for s in stages if any("maturin build" in r for r in _runs(s, args))]
    (build,) = [r for r in _runs(builder, args) if "maturin build" in r]
    assert "native/tagcore/Cargo.toml" in build
    assert "--locked" in build
    assert "--release" in build
    assert "-c requirements.lock maturin" in build, "maturin comes at the version the lock pins"
    assert any(f == "rust" or "cargo" in dest for f, _, dest in _copies(builder))
    wheels = [dest for f, _, dest in _copies(stages[-1]) if f == builder.name]
    assert wheels, "the final stage copies the wheel from the builder"
    assert any(f"{wheels[0]}/tagcore-" in r and "pip install" in r for r in _runs(stages[-1], args))


def test_prism_is_built_at_the_locked_beam_version_where_compose_looks_for_it():
    args, stages = _stages()
    beam = _lock_pins()["apache-beam"]
    (prism,) = [s for s in stages if any("go/cmd/prism@" in r for r in _runs(s, args))]
    assert any(f"go/cmd/prism@v{beam}" in r for r in _runs(prism, args))
    (destination,) = [dest for f, _, dest in _copies(stages[-1]) if f == prism.name]
    command = _compose()["services"]["wirewatch"]["command"]
    assert f"--prism_location={destination}" in command


def test_the_image_builds_the_flink_job_server_from_the_projects_pom():
    args, stages = _stages()
    # Beam's job server artifact is not served: nothing may fetch it by its coordinates.
    for stage in stages:
        for run in _runs(stage, args):
            assert "job-server:" not in run, f"stage {stage.name} fetches a job server: {run}"
            assert "dependency:copy" not in run
    (builder,) = [s for s in stages if any(re.search(r"\bmvn\b", r) for r in _runs(s, args))]
    workdir = _workdir(builder)
    (pom,) = [(sources, dest) for f, sources, dest in _copies(builder) if f is None]
    assert pom[0] == [POM.relative_to(ROOT).as_posix()]
    assert pom[1] in ("pom.xml", "./pom.xml", f"{workdir}/pom.xml"), "mvn must find the pom in WORKDIR"
    (build,) = [r for r in _runs(builder, args) if re.search(r"\bmvn\b", r)]
    assert "mvn -B -q package" in build
    # The stage refuses a pom whose runner is for another Flink than FLINK_VERSION.
    assert f"<artifactId>beam-runners-flink-{args['FLINK_VERSION']}</artifactId>" in build
    # One fixed path in the image, and the one the streaming driver submits.
    (jar,) = [(sources, dest) for f, sources, dest in _copies(stages[-1]) if f == builder.name]
    assert jar[0] == [f"{workdir}/target/{_pom_jar_name()}"]
    assert jar[1].startswith("/")
    assert jar[1].endswith(".jar"), "copy the jar to a file path, not into a folder"
    stream = _stream_args()
    assert _flag(stream, "--flink_job_server_jar") == jar[1]
    assert "--flink_submit_uber_jar" in stream
    # pipelines/flink.py caches the jar under the name the pom builds.
    assert _pom_jar_name() == flink_jar.JAR_NAME


def test_the_image_carries_the_process_environments_boot_command():
    script = _project()["scripts"][flink.BOOT_COMMAND]
    module, _, attribute = script.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    args, final = _final()
    copied = {src for f, sources, _ in _copies(final) if f is None for src in sources}
    assert module.split(".")[0] in copied
    # pip puts console scripts on PATH; the build runs the command after the install, so an image
    # without it on PATH does not build.
    (install,) = [r for r in _runs(final, args) if re.search(r"pip install [^&]*-e \.", r)]
    steps = [step.strip() for step in install.split("&&")]
    installed = next(i for i, step in enumerate(steps) if re.search(r"pip install [^&]*-e \.", step))
    ran = [i for i, step in enumerate(steps) if step.split()[0] == flink.BOOT_COMMAND]
    assert ran, f"the image build must run {flink.BOOT_COMMAND}"
    assert ran[0] > installed


def test_every_copied_path_exists_and_is_in_the_build_context():
    ignored = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    _, stages = _stages()
    for stage in stages:
        for source_stage, sources, _ in _copies(stage):
            if source_stage is not None:
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
                hits = [p for p in ignored if fnmatch(source, p) or source.startswith(p.rstrip("/") + "/")]
                assert not hits, f"COPY {source} is excluded from the context by {hits}"


def test_the_image_finds_the_registries_the_kibana_objects_and_the_template_entry_point():
    _, final = _final()
    workdir = _workdir(final)
    copies = {src: dest for f, sources, dest in _copies(final) if f is None for src in sources}

    def in_image(path: pathlib.Path) -> str:
        """Where `path` is in the image: at the same place under WORKDIR as in the repository."""
        relative = path.relative_to(ROOT).as_posix()
        for source, dest in copies.items():
            if relative == source or relative.startswith(source + "/"):
                target = dest if dest.startswith("/") else f"{workdir}/{dest}"
                assert target.rstrip("/") == f"{workdir}/{source}", f"COPY {source} {dest}: not where it is"
                return f"{workdir}/{relative}"
        pytest.fail(f"the image does not copy {relative}")

    # Editable install: the packages look for these next to themselves (WORKDIR).
    in_image(actors.DEFAULT_FOLDER)
    in_image(cli_kibana.DEFAULT_FILE)
    env = _env(final)
    assert env["FLEX_TEMPLATE_PYTHON_PY_FILE"] == in_image(DATAFLOW / "main.py")
    (entrypoint,) = [c for c in final.commands if c.cmd == "ENTRYPOINT"]
    assert entrypoint.json, "exec form, so the container's PID 1 gets SIGTERM"
    assert list(entrypoint.value) == [copies["deploy/docker/entrypoint.sh"]]
    script = ENTRYPOINT.read_text(encoding="utf-8")
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR, "entrypoint.sh must be executable"
    launcher = [dest for f, _, dest in _copies(final) if f == "launcher"]
    assert launcher == ["/opt/google/dataflow/python_template_launcher"]
    assert f"TEMPLATE_LAUNCHER:-{launcher[0]}}}" in script
    assert "BEAM_BOOT:-/opt/apache/beam/boot}" in script


def _stub(folder: pathlib.Path, name: str) -> str:
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "{name}" "$@"\n', encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "launcher"),
        (["--worker_pool"], "boot --worker_pool"),
        (["--id=1-1", "--control_endpoint=localhost:1"], "boot --id=1-1 --control_endpoint=localhost:1"),
        (["wirewatch", "stream", "--feeds", "f.yaml"], "wirewatch stream --feeds f.yaml"),
        (["stream", "--feeds", "f.yaml"], "wirewatch stream --feeds f.yaml"),
        (
            ["wirewatch-sdk-worker", "--id=1", "--provision_endpoint=localhost:1"],
            "wirewatch-sdk-worker --id=1 --provision_endpoint=localhost:1",
        ),
        (["sh", "-c", "echo shell"], "shell"),
    ],
)
def test_the_entrypoint_picks_the_part_from_the_arguments(tmp_path, args, expected):
    env = {
        "PATH": f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "BEAM_BOOT": _stub(tmp_path, "boot"),
        "TEMPLATE_LAUNCHER": _stub(tmp_path, "launcher"),
    }
    _stub(tmp_path, "wirewatch")
    _stub(tmp_path, "wirewatch-sdk-worker")
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


# --- Docker Compose -------------------------------------------------------------------------------


def test_the_compose_file_follows_the_compose_specification():
    # The Compose specification's own schema, as check-jsonschema vendors it (Apache-2.0).
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator_class(schema).iter_errors(_compose())
    ]
    assert not errors
    broken = _compose()
    broken["services"]["wirewatch"]["depends_on"]["elasticsearch"]["condition"] = "service_healty"
    assert list(validator_class(schema).iter_errors(broken)), "the schema check must not be vacuous"


def test_compose_starts_each_service_once_what_it_needs_is_healthy():
    services = _compose()["services"]
    assert set(services) == {"elasticsearch", "kibana", "wirewatch", "kibana-import"}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health"
    assert services["wirewatch"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["kibana-import"]["depends_on"]["kibana"]["condition"] == "service_healthy"
    assert services["kibana-import"]["restart"] == "no"
    for name in ("wirewatch", "kibana-import"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/docker/Dockerfile"}
        assert services[name]["image"] == f"wirewatch:{_project()['version']}"


def test_elasticsearch_and_kibana_are_the_version_the_suite_tests_against():
    version = _local_es_version()
    assert version.split(".")[0] == importlib.metadata.version("elasticsearch").split(".")[0]
    services = _compose()["services"]
    assert services["elasticsearch"]["image"] == f"elasticsearch:{version}"
    assert services["kibana"]["image"] == f"kibana:{version}"
    assert _one("Elasticsearch")["spec"]["version"] == version
    assert _one("Kibana")["spec"]["version"] == version


# --- Kubernetes -------------------------------------------------------------------------------------


def _is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]  # "" for the core group (v1)
    return "." not in group or group.endswith(".k8s.io")


BUILTIN = [item for item in _objects() if _is_builtin(item[1]["apiVersion"])]


def test_the_kustomization_applies_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    expected = sorted(p.name for p in _manifest_files() if p != SECRET_TEMPLATE)
    assert sorted(kustomization["resources"]) == expected
    assert SECRET_TEMPLATE.name not in kustomization["resources"], "never apply the placeholder key"
    (namespace,) = _by_kind("Namespace")
    assert kustomization["namespace"] == namespace["metadata"]["name"]
    assert [i["name"] for i in kustomization["images"]] == ["wirewatch"]
    assert kustomization["images"][0]["newTag"] == _project()["version"]


@pytest.mark.parametrize("item", BUILTIN, ids=_object_id)
def test_kubernetes_objects_validate_against_the_kubernetes_schema(item):
    _, doc = item
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_the_kubernetes_schema_check_is_not_vacuous():
    cronjob = copy.deepcopy(_one("CronJob"))
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["argz"] = ["run"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 CRD schema as the API server's strict field validation reads it: fields it
    does not declare are refused, int-or-string fields take either."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _flink_schema() -> dict[str, Any]:
    crd = json.loads(FLINK_CRD.read_text(encoding="utf-8"))
    schema = crd["openAPIV3Schema"]
    # The API server supplies these three for every kind; CRD schemas leave them out.
    implied = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    strict: dict[str, Any] = _strict({**schema, "properties": {**implied, **schema["properties"]}})
    return strict


def test_the_flink_deployment_validates_against_the_operators_crd():
    doc = _one("FlinkDeployment")
    crd = json.loads(FLINK_CRD.read_text(encoding="utf-8"))
    assert doc["apiVersion"] == f"{crd['group']}/{crd['version']}"
    assert doc["kind"] == crd["kind"]
    validator = jsonschema.Draft7Validator(_flink_schema())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors
    broken = copy.deepcopy(doc)
    broken["spec"]["taskManager"]["replicaz"] = 2
    assert list(validator.iter_errors(broken)), "the CRD check must refuse unknown fields"
    # The CRD takes pod templates as they come; Kubernetes' own schema checks them.
    for role in ("jobManager", "taskManager"):
        if "podTemplate" in doc["spec"][role]:
            _validate_as(
                "PodTemplate", {"metadata": {"name": role}, "template": doc["spec"][role]["podTemplate"]}
            )


def test_flink_beam_and_the_operator_agree_on_the_flink_version():
    doc = _one("FlinkDeployment")
    enum = _flink_schema()["properties"]["spec"]["properties"]["flinkVersion"]["enum"]
    assert doc["spec"]["flinkVersion"] in enum
    major_minor = doc["spec"]["flinkVersion"].removeprefix("v").replace("_", ".")
    # The one Flink whose Beam runner can be built here, everywhere it is named.
    assert major_minor == flink_jar.FLINK_VERSION
    assert major_minor == _pom_runner_flink_version()
    assert major_minor == _stages()[0]["FLINK_VERSION"]
    assert major_minor in FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS  # Beam's --flink_version takes it
    image, _, tag = doc["spec"]["image"].partition(":")
    assert image == "flink"
    assert re.fullmatch(rf"{re.escape(major_minor)}\.\d+-java(11|17)", tag), (
        f"pin a {major_minor} patch release"
    )
    args = _stream_args()
    assert f"--flink_version={major_minor}" in args
    rest = f"http://{doc['metadata']['name']}-rest:8081"  # the operator's REST service
    assert f"--flink_master={rest}" in args
    # The job jar carries a Flink runtime of its own: the cluster's classes must win.
    assert doc["spec"]["flinkConfiguration"]["classloader.resolve-order"] == "parent-first"


def test_the_stream_command_passes_wirewatchs_flink_preparation_unchanged():
    args, beam_args = cli._parser().parse_known_args(_stream_args())
    assert args.command == "stream"
    options = PipelineOptions([*beam_args, "--streaming"])
    flink.prepare(options)
    # Nothing to build or look for in the pod: the image's jar, Flink's own JVM, the sidecar pool.
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == _flag(
        beam_args, "--flink_job_server_jar"
    )
    assert options.view_as(PortableOptions).environment_type == "EXTERNAL"
    assert options.view_as(JobServerOptions).job_server_java_launcher == "java"
    interval = options.view_as(flink.FlinkCheckpointOptions).checkpointing_interval
    assert interval == int(_flag(beam_args, "--checkpointing_interval"))


def test_the_stream_checkpoints_to_storage_every_flink_pod_shares():
    # Without checkpoints Flink stops Beam's Impulse source and the feed polling stalls.
    interval = int(_flag(_stream_args(), "--checkpointing_interval"))
    assert 0 < interval <= 10 * 60 * 1000
    spec = _one("FlinkDeployment")["spec"]
    config = spec["flinkConfiguration"]
    assert config["state.checkpoint-storage"] == "filesystem"
    claims = {doc["metadata"]["name"]: doc for doc in _by_kind("PersistentVolumeClaim")}
    used: set[str] = set()
    for key in ("state.checkpoints.dir", "state.savepoints.dir"):
        url = config[key]
        scheme, _, path = url.partition("://")
        assert scheme in ("file", "s3", "gs", "abfss", "hdfs"), f"{key}: {url}"
        if scheme != "file":
            continue  # an object store every pod reaches
        for role in ("jobManager", "taskManager"):
            pod = spec[role]["podTemplate"]["spec"]
            (main,) = [c for c in pod["containers"] if c["name"] == FLINK_MAIN]
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            mounts = [
                m for m in main.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")
            ]
            assert mounts, f"{role}: {key} {url} is on no volume of {FLINK_MAIN}"
            claim = volumes[mounts[0]["name"]].get("persistentVolumeClaim", {}).get("claimName")
            assert claim in claims, f"{role}: {key} is on no claim the manifests create"
            used.add(claim)
    for claim in used:
        assert "ReadWriteMany" in claims[claim]["spec"]["accessModes"], f"{claim}: every Flink pod mounts it"
    assert len(used) <= 1, "the job manager and the task managers must see the same files"


def test_every_task_manager_runs_beams_worker_pool_where_the_driver_looks_for_it():
    pod = _one("FlinkDeployment")["spec"]["taskManager"]["podTemplate"]["spec"]
    (pool,) = [c for c in pod["containers"] if c.get("args") == ["--worker_pool"]]
    assert pool["image"].split(":")[0] == "wirewatch"
    port = pool["ports"][0]["containerPort"]
    args = _one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--environment_type=EXTERNAL" in args
    assert f"--environment_config=localhost:{port}" in args


ECK_SPEC_FIELDS = {
    "Elasticsearch": {
        "version", "image", "http", "transport", "nodeSets", "updateStrategy", "podDisruptionBudget",
        "auth", "secureSettings", "serviceAccountName", "remoteClusters", "volumeClaimDeletePolicy",
        "monitoring", "revisionHistoryLimit",
    },
    "Kibana": {
        "version", "image", "count", "elasticsearchRef", "enterpriseSearchRef", "config", "http",
        "podTemplate", "secureSettings", "serviceAccountName", "monitoring", "revisionHistoryLimit",
    },
}  # fmt: skip
NODE_SET_FIELDS = {"name", "config", "count", "podTemplate", "volumeClaimTemplates"}


def _validate_as(kind: str, body: dict[str, Any]) -> None:
    """A fragment of a custom resource (pod template, volume claim) against the core schema."""
    kubernetes_validate.validate({"apiVersion": "v1", "kind": kind, **body}, KUBERNETES_VERSION, strict=True)


def test_the_eck_resources_use_only_fields_eck_defines():
    # ECK's CRDs ship in no package registry (and under the Elastic License): check their shape,
    # and the Kubernetes types they embed against Kubernetes' own schema.
    es, kibana = _one("Elasticsearch"), _one("Kibana")
    assert es["apiVersion"] == "elasticsearch.k8s.elastic.co/v1"
    assert kibana["apiVersion"] == "kibana.k8s.elastic.co/v1"
    for doc in (es, kibana):
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
        assert set(doc["spec"]) <= ECK_SPEC_FIELDS[doc["kind"]]
        assert re.fullmatch(r"\d+\.\d+\.\d+", doc["spec"]["version"])
    assert es["spec"]["nodeSets"]
    for node_set in es["spec"]["nodeSets"]:
        assert set(node_set) <= NODE_SET_FIELDS
        assert re.fullmatch(r"[a-zA-Z0-9-]{1,23}", node_set["name"])
        assert node_set["count"] >= 1
        _validate_as("PodTemplate", {"metadata": {"name": "x"}, "template": node_set["podTemplate"]})
        for claim in node_set.get("volumeClaimTemplates", []):
            _validate_as("PersistentVolumeClaim", claim)
        assert any(c["name"] == "elasticsearch" for c in node_set["podTemplate"]["spec"]["containers"])
    _validate_as("PodTemplate", {"metadata": {"name": "x"}, "template": kibana["spec"]["podTemplate"]})
    assert kibana["spec"]["elasticsearchRef"] == {"name": es["metadata"]["name"]}


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, doc in _objects():
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            yield name, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] in ("Job", "Deployment"):
            yield name, spec["template"]["spec"]
        elif doc["kind"] == "FlinkDeployment":
            for role in ("jobManager", "taskManager"):
                if "podTemplate" in spec[role]:
                    yield name, spec[role]["podTemplate"]["spec"]
        elif doc["kind"] == "Elasticsearch":
            for node_set in spec["nodeSets"]:
                yield name, node_set["podTemplate"]["spec"]
        elif doc["kind"] == "Kibana":
            yield name, spec["podTemplate"]["spec"]


def test_every_container_has_resources_and_a_pinned_image():
    version = _project()["version"]
    for name, pod in _pod_specs():
        for container in pod["containers"]:
            where = f"{name}: container {container['name']}"
            if container["name"] == FLINK_MAIN:
                continue  # Flink sizes it from spec.jobManager/taskManager.resource (below)
            resources_ = container.get("resources", {})
            assert "memory" in resources_.get("requests", {}), f"{where} requests no memory"
            assert "memory" in resources_.get("limits", {}), f"{where} has no memory limit"
            if "image" in container:  # ECK fills in its own containers' images
                image, _, tag = container["image"].rpartition(":")
                assert image, f"{where}: no image name"
                assert tag not in ("", "latest"), f"{where}: pin the image"
                if image == "wirewatch":
                    assert tag == version, f"{where}: the image of this release is wirewatch:{version}"
    flink = _one("FlinkDeployment")["spec"]
    assert ":" in flink["image"]
    assert not flink["image"].endswith(":latest")
    for role in ("jobManager", "taskManager"):
        assert flink[role]["resource"]["memory"], f"FlinkDeployment: {role} has no memory size"
        for container in flink[role].get("podTemplate", {}).get("spec", {}).get("containers", []):
            if container["name"] == FLINK_MAIN:
                assert not {"image", "resources"} & set(container), f"{role}: Flink sets these from spec"


def test_the_batch_cronjob_runs_every_15_minutes_and_never_twice_at_once():
    cronjob = _one("CronJob")["spec"]
    assert cronjob["schedule"] == "*/15 * * * *"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    job = cronjob["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    assert job["backoffLimit"] <= 2
    (container,) = job["template"]["spec"]["containers"]
    assert container["args"][:2] == ["run", "--feeds"]


def _secret_names() -> set[str]:
    es = _one("Elasticsearch")["metadata"]["name"]
    kibana = _one("Kibana")["metadata"]["name"]
    (template,) = _yaml_docs(SECRET_TEMPLATE)
    # The template, and what ECK creates: the HTTP CAs and the `elastic` user's password.
    return {
        template["metadata"]["name"],
        f"{es}-es-http-certs-public",
        f"{es}-es-elastic-user",
        f"{kibana}-kb-http-certs-public",
    }


def test_every_secret_config_map_and_claim_a_pod_uses_exists():
    secrets = _secret_names()
    config_maps = {doc["metadata"]["name"]: doc for doc in _by_kind("ConfigMap")}
    claims = {doc["metadata"]["name"] for doc in _by_kind("PersistentVolumeClaim")}
    for name, pod in _pod_specs():
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for volume in volumes.values():
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, f"{name}: {volume}"
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, f"{name}: {volume}"
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, f"{name}: {volume}"
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                assert source["secretRef"]["name"] in secrets, f"{name}: {source}"
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, f"{name}: {ref}"
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
            file_variables = (es_client.CA_CERTS_ENV, *SECRET_FILE_VARIABLES)
            files = [v["value"] for v in container.get("env", []) if v["name"] in file_variables]
            args = container.get("args", [])
            files += [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--feeds", "--alerts")]
            for file in files:
                folder, _, key = file.rpartition("/")
                assert folder in mounts, f"{name}: {file} is on no mounted volume"
                volume = mounts[folder]
                if "secret" in volume:
                    items = volume["secret"].get("items")
                    # A whole Secret mounted: one file per key, named as the variable Wirewatch reads.
                    paths = [item["path"] for item in items] if items else ES_VARIABLES
                    assert key in paths, f"{name}: {file}"
                else:
                    assert key in config_maps[volume["configMap"]["name"]]["data"], f"{name}: {file}"


def _es_secret_name() -> str:
    (template,) = _yaml_docs(SECRET_TEMPLATE)
    name: str = template["metadata"]["name"]
    return name


def _container_env(
    pod: dict[str, Any], container: dict[str, Any], secret: dict[str, str], root: pathlib.Path
) -> dict[str, str]:
    """The environment `container` runs with when the Elasticsearch Secret holds `secret`; the
    Secret's files are written under `root`, and variables naming them point there."""
    name = _es_secret_name()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if source.get("secretRef", {}).get("name") == name:
            env.update(secret)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounted: dict[str, pathlib.Path] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]].get("secret", {})
        if volume.get("secretName") != name:
            continue
        folder = root / mount["name"]
        folder.mkdir(parents=True)
        for item in volume.get("items") or [{"key": key, "path": key} for key in secret]:
            if item["key"] in secret:
                (folder / item["path"]).write_text(secret[item["key"]] + "\n", encoding="utf-8")
        mounted[mount["mountPath"].rstrip("/") + "/"] = folder
    for variable in container.get("env", []):
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref["name"] == name and ref["key"] in secret:
            env[variable["name"]] = secret[ref["key"]]
        elif "value" in variable:
            value = variable["value"]
            for path, folder in mounted.items():
                if value.startswith(path):
                    value = str(folder / value.removeprefix(path))
            env[variable["name"]] = value
    return env


def _sdk_worker_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, pod, container) of every container that runs Beam's Python SDK workers."""
    stream = _stream_args()
    pod = _one("FlinkDeployment")["spec"]["taskManager"]["podTemplate"]["spec"]
    environment = _flag(stream, "--environment_type")
    if environment == "EXTERNAL":
        # The task manager's sidecar listening where the runner looks for the worker pool.
        port = int(_flag(stream, "--environment_config").rpartition(":")[2])
        (pool,) = [c for c in pod["containers"] if port in [p["containerPort"] for p in c.get("ports", [])]]
    else:
        assert environment == "PROCESS", f"the Flink workers run in {environment}"
        (pool,) = [c for c in pod["containers"] if c["name"] == FLINK_MAIN]  # the task manager itself
    found = [(f"flink-session.yaml: {pool['name']}", pod, pool)]
    # The batch run's DirectRunner starts its workers inside the pod.
    cronjob_pod = _one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (batch,) = cronjob_pod["containers"]
    assert not any(a.startswith("--runner=") for a in batch["args"]), "the batch run is no longer in-pod"
    found.append(("cronjob-batch.yaml", cronjob_pod, batch))
    return found


@pytest.mark.parametrize("auth", ["api_key", "basic"])
def test_the_pods_running_sdk_workers_get_the_elasticsearch_credential(tmp_path, auth):
    # Workers read the credential in setup() from their own environment (EsEndpoint.resolve): the
    # job graph carries only the endpoint, so the Secret must reach every worker's pod.
    (template,) = _yaml_docs(SECRET_TEMPLATE)
    url = template["stringData"][es_client.URL_ENV]
    if auth == "api_key":
        secret = {es_client.URL_ENV: url, es_client.API_KEY_ENV: "the-api-key"}
        endpoint = es_client.EsEndpoint(url=url, auth="api_key")
    else:
        secret = {es_client.URL_ENV: url, es_client.USERNAME_ENV: "wirewatch", es_client.PASSWORD_ENV: "pw"}
        endpoint = es_client.EsEndpoint(url=url, auth="basic", username="wirewatch")
    containers = _sdk_worker_containers()
    for i, (where, pod, container) in enumerate(containers):
        settings = endpoint.resolve(_container_env(pod, container, secret, tmp_path / str(i)))
        credential = settings.api_key if auth == "api_key" else settings.password
        assert credential is not None, where
        assert credential.get_secret_value() == secret.get(es_client.API_KEY_ENV, "pw"), where
    # The driver reads the same Secret to learn where Elasticsearch is and which credential it takes.
    (driver,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    pod = _one("Deployment")["spec"]["template"]["spec"]
    driver_env = _container_env(pod, driver, secret, tmp_path / "d")
    driver_env.pop(es_client.CA_CERTS_ENV)  # a file of another Secret, not here (its mount: tested above)
    driver_settings = es_client.settings_from_env(None, driver_env)
    assert driver_settings is not None
    assert driver_settings.url == url
    assert (driver_settings.api_key or driver_settings.password) is not None
    # Not vacuous: the worker pool without its Secret has no credential.
    where, pod, pool = containers[0]
    bare = {**pool, "envFrom": [], "volumeMounts": []}
    with pytest.raises(StoreError, match="ELASTICSEARCH_"):
        endpoint.resolve(_container_env(pod, bare, secret, tmp_path / "bare"))


def test_no_secret_is_written_into_a_manifest_or_the_job():
    for name, pod in _pod_specs():
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            where = f"{name}: container {container['name']}"
            mounts = {
                m["mountPath"].rstrip("/"): volumes[m["name"]] for m in container.get("volumeMounts", [])
            }
            for variable in container.get("env", []):
                if variable["name"] in SECRET_VARIABLES:
                    assert "secretKeyRef" in variable.get("valueFrom", {}), (
                        f"{where}: {variable['name']} inline"
                    )
                if variable["name"] in SECRET_FILE_VARIABLES:
                    folder = variable["value"].rpartition("/")[0]
                    assert "secret" in mounts.get(folder, {}), f"{where}: {variable['value']} is no Secret"
                if variable["name"] == es_client.URL_ENV and "value" in variable:
                    assert "@" not in variable["value"], f"{where}: credentials in {es_client.URL_ENV}"
            # Arguments end up in the job's options, which Flink and Dataflow show to anyone.
            argv = [*container.get("command", []), *container.get("args", [])]
            assert not any(a.startswith(es_client.URL_FLAG) and "@" in a for a in argv), where
            assert not any(s in a for a in argv for s in ("api_key", "password", "apikey")), where
    config = _one("FlinkDeployment")["spec"]["flinkConfiguration"]
    assert not [k for k in config if re.search(r"password|secret|api.?key", k, re.I)]
    for service_name, service in _compose()["services"].items():
        environment = service.get("environment", {})
        assert not set(SECRET_VARIABLES) & set(environment), (
            f"compose {service_name}: use *_FILE or an env file"
        )


def test_the_config_map_passes_the_pipelines_own_validation(tmp_path):
    data = _one("ConfigMap")["data"]
    (tmp_path / "feeds.yaml").write_text(data["feeds.yaml"], encoding="utf-8")
    (tmp_path / "alerts.yaml").write_text(data["alerts.yaml"], encoding="utf-8")
    assert load_catalog(str(tmp_path / "feeds.yaml")).feeds
    assert load_alert_rules(str(tmp_path / "alerts.yaml")).rules


def test_the_secret_template_holds_only_what_wirewatch_reads_and_no_real_key():
    (secret,) = _yaml_docs(SECRET_TEMPLATE)
    data = secret["stringData"]
    known = {
        es_client.URL_ENV,
        es_client.API_KEY_ENV,
        es_client.USERNAME_ENV,
        es_client.PASSWORD_ENV,
        es_client.CA_CERTS_ENV,
        es_client.VERIFY_CERTS_ENV,
    }
    assert set(data) <= known
    assert data[es_client.API_KEY_ENV].startswith("REPLACE_")
    settings = es_client.settings_from_env(None, {es_client.URL_ENV: data[es_client.URL_ENV]})
    assert settings is not None
    es = _one("Elasticsearch")["metadata"]["name"]
    namespace = _one("Namespace")["metadata"]["name"]
    assert settings.url == f"https://{es}-es-http.{namespace}.svc:9200"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_renders_the_kustomization():
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    rendered = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert len(rendered) == len(_objects()) - 1  # all but the secret template
    assert {doc["metadata"].get("namespace") for doc in rendered if doc["kind"] != "Namespace"} == {
        "wirewatch"
    }


# --- Dataflow -----------------------------------------------------------------------------------------


def _parameters() -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = _metadata()["parameters"]
    return parameters


@pytest.mark.parametrize("parameter", _parameters(), ids=lambda p: p["name"])
def test_every_template_parameter_is_a_wirewatch_option_of_its_type(parameter):
    actions = _wirewatch_actions()
    flag = f"--{parameter['name']}"
    assert flag in actions, f"{flag} is not a Wirewatch option"
    assert flag not in NOT_TEMPLATE_PARAMETERS
    action = actions[flag]
    kind: object = bool if isinstance(action, argparse._StoreTrueAction) else (action.type or str)
    assert parameter["paramType"] == PARAM_TYPES[kind]
    assert {"label", "helpText"} <= set(parameter)
    assert parameter["isOptional"] is True
    (regex,) = parameter.get("regexes", [".*"])
    pattern = re.compile(regex)
    if kind is bool:
        assert regex == "^(true|false)$"
        return
    if action.default is not None:
        assert pattern.fullmatch(str(action.default)), f"{flag}: the default {action.default!r} is refused"
    if action.choices is not None:
        assert regex == f"^({'|'.join(map(re.escape, action.choices))})$", f"{flag}: exactly its choices"
    if kind is int:
        for bad in ("", "abc", "1.5", "-1", "0"):
            assert not pattern.fullmatch(bad), f"{flag} accepts {bad!r}"
        assert pattern.fullmatch("42")
    if kind is float:
        for bad in ("", "abc", "-1", "1e3 "):
            assert not pattern.fullmatch(bad), f"{flag} accepts {bad!r}"


def test_every_wirewatch_option_is_a_template_parameter_or_deliberately_left_out():
    flags = {f for f, action in _wirewatch_actions().items() if action.option_strings[0] == f}
    declared = {f"--{p['name']}" for p in _parameters()}
    assert flags - declared == NOT_TEMPLATE_PARAMETERS
    assert len(declared) == len(_parameters()), "a parameter is declared twice"


def test_template_regexes_follow_the_pipelines_own_limits():
    regexes = {p["name"]: re.compile(p["regexes"][0]) for p in _parameters()}
    prefix = regexes["es-index-prefix"]
    for good in ("wirewatch", "newsroom-2"):
        assert prefix.fullmatch(good)
        assert IndexNames(good).prefix == good
    for bad in ("Wirewatch", "2news", "news_room", ""):
        assert not prefix.fullmatch(bad)
        with pytest.raises(ValueError, match="index prefix"):
            IndexNames(bad)
    threshold = regexes["dedup-threshold"]
    assert all(threshold.fullmatch(v) for v in ("0.3", ".05", "1", "1.0"))
    assert not any(threshold.fullmatch(v) for v in ("0", "0.0", "1.5", "2"))


def test_the_launcher_turns_template_booleans_into_flags():
    main = _dataflow_main()
    flags = main.boolean_flags()
    assert {"--no-alerts", "--no-dedup", "--streaming"} <= flags
    argv = ["--no-alerts=true", "--no-dedup=false", "--streaming=True", "--feeds=/f.yaml", "--streaming"]
    assert main.normalize_booleans(argv, flags) == [
        "--no-alerts",
        "--streaming",
        "--feeds=/f.yaml",
        "--streaming",
    ]
    with pytest.raises(ConfigError, match="--no-alerts: expected true or false"):
        main.normalize_booleans(["--no-alerts=maybe"], flags)


KEY_VERSION = "projects/proj/secrets/wirewatch-elasticsearch-api-key/versions/latest"
URL_VERSION = "projects/proj/secrets/wirewatch-elasticsearch-url/versions/latest"
LAUNCH_KEY = "launch-api-key-Zq81"  # what the fake Secret Manager holds at KEY_VERSION


class _FakeSecretManager:
    """Secret Manager for the launcher tests: the versions it holds, and every name asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def __call__(self, version: str) -> str:
        self.asked.append(version)
        if version not in self.values:
            raise RuntimeError(
                f"403 Permission 'secretmanager.versions.access' denied for resource '{version}'"
            )
        return self.values[version]


def _graph_endpoints(pipeline: Any) -> list[es_client.EsEndpoint]:
    """The EsEndpoint of every DoFn in the graph, as Dataflow's workers unpickle it."""
    from apache_beam.pipeline import Pipeline, PipelineVisitor

    rebuilt = Pipeline.from_runner_api(pipeline.to_runner_api(), pipeline.runner, pipeline._options)
    found: list[es_client.EsEndpoint] = []

    class Collect(PipelineVisitor):
        def visit_transform(self, node: Any) -> None:
            fn = getattr(node.transform, "fn", None)
            for value in vars(fn).values() if fn is not None else ():
                endpoint = (
                    value if isinstance(value, es_client.EsEndpoint) else getattr(value, "endpoint", None)
                )
                if isinstance(endpoint, es_client.EsEndpoint):
                    found.append(endpoint)

    rebuilt.visit(Collect())
    return found


def test_the_launcher_fetches_the_url_and_hands_the_workers_the_api_keys_version_name():
    main = _dataflow_main()
    fetch = _FakeSecretManager({URL_VERSION: "http://127.0.0.1:9\n"})
    env: dict[str, str] = {}
    main.load_secrets("proj", env, fetch)
    assert fetch.asked == [URL_VERSION], "the key is not fetched into the launcher's environment"
    assert env == {es_client.URL_ENV: "http://127.0.0.1:9", es_client.API_KEY_SECRET_ENV: KEY_VERSION}

    # Other versions, by name; an environment that has the variable already is left as it is.
    other = "projects/other/secrets/wirewatch-elasticsearch-api-key/versions/3"
    env = {"WIREWATCH_ES_API_KEY_SECRET": f" {other} ", es_client.URL_ENV: "http://127.0.0.1:9"}
    main.load_secrets("proj", env, fetch)
    assert env[es_client.API_KEY_SECRET_ENV] == other
    for present in (es_client.API_KEY_ENV, es_client.API_KEY_FILE_ENV, es_client.API_KEY_SECRET_ENV):
        env = {es_client.URL_ENV: "http://127.0.0.1:9", present: "/run/secrets/k"}
        main.load_secrets("proj", env, fetch)
        assert env == {es_client.URL_ENV: "http://127.0.0.1:9", present: "/run/secrets/k"}
    assert fetch.asked == [URL_VERSION]


@pytest.mark.parametrize(
    ("project", "env", "message"),
    [
        (
            None,
            {},
            "ELASTICSEARCH_URL: not set, and no --project to find secret wirewatch-elasticsearch-url in",
        ),
        (
            None,
            {es_client.URL_ENV: "http://127.0.0.1:9"},
            "ELASTICSEARCH_API_KEY: not set, and no --project to find secret "
            "wirewatch-elasticsearch-api-key in",
        ),
        (
            "proj",
            {es_client.URL_ENV: "http://127.0.0.1:9", "WIREWATCH_ES_API_KEY_SECRET": LAUNCH_KEY},
            "WIREWATCH_ES_API_KEY_SECRET: must be a Secret Manager secret version name, "
            "projects/PROJECT/secrets/SECRET/versions/VERSION, not the secret itself",
        ),
        (
            "proj",
            {"WIREWATCH_ES_URL_SECRET": "projects/proj/secrets/gone/versions/1"},
            "ELASTICSEARCH_URL: cannot access projects/proj/secrets/gone/versions/1: 403 Permission "
            "'secretmanager.versions.access' denied for resource 'projects/proj/secrets/gone/versions/1'",
        ),
        ("proj", {}, f"ELASTICSEARCH_URL: {URL_VERSION} is empty"),
    ],
    ids=[
        "no-project-for-url",
        "no-project-for-key",
        "a-key-where-its-name-belongs",
        "url-denied",
        "url-empty",
    ],
)
def test_the_launcher_refuses_what_it_cannot_use_in_one_line(project, env, message):
    main = _dataflow_main()
    with pytest.raises(ConfigError) as caught:
        main.load_secrets(project, env, _FakeSecretManager({URL_VERSION: " \n"}))
    assert str(caught.value) == message
    assert LAUNCH_KEY not in str(caught.value)


@pytest.mark.parametrize(("extra", "source"), [([], "ReadFeeds"), (["--streaming=true"], "PollFeeds")])
def test_the_launcher_builds_the_batch_or_the_streaming_graph(monkeypatch, extra, source):
    main = _dataflow_main()
    key_check = _FakeSecretManager({KEY_VERSION: LAUNCH_KEY})
    monkeypatch.setattr(es_client, "fetch_gcp_secret", key_check)
    env: dict[str, str] = {}
    argv = ["--project=proj", f"--feeds={ROOT / 'seeds' / 'feeds.yaml'}", "--no-alerts=false", *extra]
    pipeline = main.build_job(
        argv, env=env, fetch=_FakeSecretManager({URL_VERSION: "https://es.example:443"})
    )
    labels = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    assert source in labels
    assert "WriteArticles" in labels
    assert ({"ReadFeeds", "PollFeeds"} - {source}).isdisjoint(labels)
    # The key was read once, as a check; what the workers get is its version's name.
    assert key_check.asked == [KEY_VERSION]
    assert LAUNCH_KEY not in env.values()
    endpoints = _graph_endpoints(pipeline)
    assert len(endpoints) >= 2
    for endpoint in endpoints:
        assert endpoint == es_client.EsEndpoint(
            url="https://es.example:443", auth="api_key", secret_version=KEY_VERSION
        )
    # A Dataflow worker: none of the launcher's environment, the key fetched in setup().
    on_a_worker = _FakeSecretManager({KEY_VERSION: LAUNCH_KEY})
    settings = endpoints[0].resolve({}, fetch=on_a_worker)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == LAUNCH_KEY
    assert on_a_worker.asked == [KEY_VERSION]


def test_a_launch_whose_key_the_service_account_cannot_read_fails_before_submitting(monkeypatch, capsys):
    main = _dataflow_main()
    monkeypatch.setattr(es_client, "fetch_gcp_secret", _FakeSecretManager({}))
    for name in (es_client.API_KEY_ENV, es_client.API_KEY_FILE_ENV, es_client.API_KEY_SECRET_ENV):
        monkeypatch.setenv(name, "")  # unset to Wirewatch, and restored after what main() writes
    monkeypatch.setenv(es_client.URL_ENV, "https://es.example:443")
    monkeypatch.setenv("WIREWATCH_ES_API_KEY_SECRET", "projects/proj/secrets/elsewhere/versions/2")
    assert main.main(["--project=proj", f"--feeds={ROOT / 'seeds' / 'feeds.yaml'}"]) == 2
    assert capsys.readouterr().err == (
        "wirewatch: ELASTICSEARCH_API_KEY_SECRET: cannot access projects/proj/secrets/elsewhere/versions/2: "
        "403 Permission 'secretmanager.versions.access' denied for resource "
        "'projects/proj/secrets/elsewhere/versions/2'\n"
    )
    assert os.environ[es_client.API_KEY_SECRET_ENV] == "projects/proj/secrets/elsewhere/versions/2"


def test_the_scheduler_launches_the_template_every_15_minutes_without_secrets():
    terraform = _terraform()
    variables = {k: v for block in terraform["variable"] for k, v in block.items()}
    assert variables["schedule"]["default"] == "*/15 * * * *"
    (local,) = terraform["locals"]
    resources_ = {
        (t, n): body
        for block in terraform["resource"]
        for t, named in block.items()
        for n, body in named.items()
    }
    job = resources_[("google_cloud_scheduler_job", "wirewatch_batch")]
    assert job["schedule"] == "${var.schedule}"
    (target,) = job["http_target"]
    assert target["uri"].endswith("/flexTemplates:launch")
    assert target["http_method"] == "POST"
    (oauth,) = target["oauth_token"]
    assert oauth["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    for field in ("containerSpecGcsPath", "parameters = local.batch_parameters", "sdkContainerImage"):
        assert field in target["body"]
    declared = {p["name"] for p in _parameters()}
    assert set(local["batch_parameters"]) <= declared
    # Secrets: created empty (values stay out of the state), named as the launcher expects.
    main = _dataflow_main()
    assert set(local["secrets"].values()) == {secret_id for secret_id, _ in main.SECRETS.values()}
    assert ("google_secret_manager_secret_version", "elasticsearch") not in resources_
    # The workers fetch the API key themselves in setup(), as the account the job runs as: it may
    # access both secrets (the launcher, which runs as the same account, reads the URL too).
    assert "serviceAccountEmail = var.worker_service_account" in target["body"]
    grant = resources_[("google_secret_manager_secret_iam_member", "worker_reads")]
    assert grant["for_each"] == "${google_secret_manager_secret.elasticsearch}"
    assert grant["secret_id"] == "${each.value.id}"
    assert grant["role"] == "roles/secretmanager.secretAccessor"
    assert grant["member"] == "serviceAccount:${var.worker_service_account}"
    assert resources_[("google_secret_manager_secret", "elasticsearch")]["for_each"] == "${local.secrets}"


# --- every wirewatch command in deploy/ --------------------------------------------------------------

_SHELL_END = {"|", "||", "&&", ";", "&", ">", ">>", "2>", "<", ")"}


def _subcommands() -> set[str]:
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(commands.choices)


def _shell_lines(markdown: str) -> Iterator[str]:
    for block in re.findall(r"```(?:bash|sh|shell|console)?\n(.*?)```", markdown, re.S):
        logical = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                logical += line.rstrip()[:-1] + " "
                continue
            yield logical + line
            logical = ""


def _commands_in(markdown: str, subcommands: set[str]) -> Iterator[list[str]]:
    """The arguments of each `wirewatch …` in the shell blocks of `markdown`: at the start of a
    command, or after another program's (`docker compose run --rm wirewatch wirewatch search …`)."""
    for line in _shell_lines(markdown):
        try:
            tokens = shlex.split(line.removeprefix("$ "), comments=True)
        except ValueError:
            continue
        segments: list[list[str]] = [[]]
        for token in tokens:
            if token in _SHELL_END:
                segments.append([])
            else:
                segments[-1].append(token)
        for segment in segments:
            for i, token in enumerate(segment):
                if token == "wirewatch" and (
                    i == 0 or (i + 1 < len(segment) and segment[i + 1] in subcommands)
                ):
                    yield segment[i + 1 :]
                    break


def _readme_commands() -> Iterator[tuple[str, list[str]]]:
    subcommands = _subcommands() | {"--version"}
    for path in sorted(DEPLOY.rglob("*.md")):
        for argv in _commands_in(path.read_text(encoding="utf-8"), subcommands):
            yield path.relative_to(ROOT).as_posix(), argv


def _container_argv(container: dict[str, Any]) -> list[str] | None:
    """The wirewatch arguments a container of the image runs, None for Beam's worker boot."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if argv and argv[0] == "wirewatch":
        return argv[1:]
    if not argv or argv[0].startswith("-"):
        return None
    return argv


def _manifest_commands() -> Iterator[tuple[str, list[str]]]:
    for name, pod in _pod_specs():
        for container in pod["containers"]:
            if container.get("image", "").split(":")[0] == "wirewatch":
                argv = _container_argv(container)
                if argv is None:
                    assert container["args"] == ["--worker_pool"], f"{name}: {container['args']}"
                else:
                    yield f"deploy/kubernetes/{name}", argv
    for service_name, service in _compose()["services"].items():
        if service.get("image", "").split(":")[0] == "wirewatch":
            argv = _container_argv({"command": service["command"]})
            assert argv is not None
            yield f"deploy/compose.yaml:{service_name}", argv


COMMANDS = [*_readme_commands(), *_manifest_commands()]


def test_commands_are_found_wherever_a_shell_would_run_them():
    text = """```bash
$ wirewatch serch x   # a typo is still a command
docker compose run --rm wirewatch wirewatch search "a b" | head -3 && wirewatch stats --json \\
  -v
docker run wirewatch:0.1.0 --worker_pool
```"""
    found = list(_commands_in(text, _subcommands()))
    assert found == [["serch", "x"], ["search", "a b"], ["stats", "--json", "-v"]]


def test_the_deploy_docs_and_files_do_run_wirewatch_commands():
    sources = {source.split(":")[0] for source, _ in COMMANDS}
    for expected in ("deploy/README.md", "deploy/compose.yaml", "deploy/kubernetes/stream.yaml"):
        assert expected in sources
    assert sum(argv[:1] == ["stream"] for _, argv in COMMANDS) >= 3


@pytest.mark.parametrize(
    ("source", "argv"), COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_every_wirewatch_command_and_flag_in_deploy_exists(source, argv):
    parser = cli._parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit:
        if argv == ["--version"]:
            return
        pytest.fail(f"{source}: `wirewatch {' '.join(argv)}` is refused by the CLI")
    if args.command in ("run", "stream"):
        # The rest goes to Beam: each flag must be Wirewatch's or Beam's, with a value it takes.
        check_known_flags(extra)
        try:
            PipelineOptions(extra).get_all_options(retain_unknown_options=False)
        except SystemExit:
            pytest.fail(f"{source}: Beam refuses {extra}")
    else:
        assert not extra, f"{source}: `wirewatch {args.command}` takes no {extra}"


def test_dataflow_launch_commands_pass_only_declared_parameters():
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    launches = [line for line in _shell_lines(readme) if "flex-template run" in line]
    assert len(launches) >= 2
    declared = {p["name"] for p in _parameters()}
    beam = _beam_dests()
    for line in launches:
        tokens = shlex.split(line, comments=True)
        (parameters,) = [t.split("=", 1)[1] for t in tokens if t.startswith("--parameters=")]
        for pair in parameters.split(","):
            name = pair.split("=", 1)[0]
            assert name in declared or name in beam, (
                f"{name} is neither a template parameter nor a Beam option"
            )
        for token in tokens:
            if token.startswith("--additional-pipeline-options="):
                for pair in token.split("=", 1)[1].split(","):
                    assert pair.split("=", 1)[0] in beam
    assert any("streaming=true" in line for line in launches), "the streaming alternative is documented"
