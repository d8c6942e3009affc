"""What `--runner=FlinkRunner` gets filled in (pipelines.flink.prepare), without starting Flink."""

from __future__ import annotations

import pathlib

import pytest
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    JobServerOptions,
    PipelineOptions,
    PortableOptions,
)

from pipelines import flink
from schemas.errors import ConfigError


@pytest.fixture
def cached_jar(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jar = flink.jar_path()
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    return jar


def fake_jdk(root: pathlib.Path, major: int) -> pathlib.Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("#!/bin/sh\n", encoding="utf-8")
    (root / "release").write_text(f'JAVA_VERSION="{major}.0.2"\n', encoding="utf-8")
    return root


def test_the_embedded_cluster_gets_the_cached_jar_a_jdk_and_loopback(cached_jar: pathlib.Path):
    options = PipelineOptions(["--runner=FlinkRunner"])
    flink.prepare(options)
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == str(cached_jar)
    assert options.view_as(PortableOptions).environment_type == "LOOPBACK"
    launcher = options.view_as(JobServerOptions).job_server_java_launcher
    assert launcher.endswith("java")
    assert (
        "--add-opens=java.base/java.util=ALL-UNNAMED"
        in options.view_as(JobServerOptions).job_server_jvm_properties
    )


def test_the_users_flags_win(cached_jar: pathlib.Path, tmp_path: pathlib.Path):
    own = tmp_path / "own.jar"
    options = PipelineOptions(
        [
            "--runner=FlinkRunner",
            f"--flink_job_server_jar={own}",
            "--environment_type=PROCESS",
            "--job_server_java_launcher=/opt/java/bin/java",
        ]
    )
    flink.prepare(options)
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == str(own)
    assert options.view_as(PortableOptions).environment_type == "PROCESS"
    assert options.view_as(JobServerOptions).job_server_java_launcher == "/opt/java/bin/java"
    assert options.view_as(JobServerOptions).job_server_jvm_properties == []


def test_a_real_cluster_keeps_beams_harness_default(cached_jar: pathlib.Path):
    options = PipelineOptions(["--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081"])
    flink.prepare(options)
    assert options.view_as(PortableOptions).environment_type is None  # EXTERNAL or DOCKER: the user's call
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == str(cached_jar)


def test_other_runners_are_left_alone(cached_jar: pathlib.Path):
    options = PipelineOptions(["--runner=DirectRunner"])
    flink.prepare(options)
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar is None
    assert options.view_as(PortableOptions).environment_type is None


def test_without_a_jar_or_maven_it_says_what_to_do(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(ConfigError, match=r"install Maven \(mvn\), or pass --flink_job_server_jar=PATH"):
        flink.prepare(PipelineOptions(["--runner=FlinkRunner"]))


def test_java_home_wins_when_flink_supports_it(tmp_path: pathlib.Path):
    home = fake_jdk(tmp_path / "jdk17", 17)
    assert flink.find_java({"JAVA_HOME": str(home)}) == str(home.resolve() / "bin" / "java")


def test_an_unsupported_java_home_is_passed_over(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(flink, "JVM_ROOT", tmp_path / "jvm")
    fake_jdk(tmp_path / "jvm" / "temurin-25", 25)
    jdk17 = fake_jdk(tmp_path / "jvm" / "openjdk-17", 17)
    home = fake_jdk(tmp_path / "jdk8", 8)
    assert flink.find_java({"JAVA_HOME": str(home)}) == str(jdk17.resolve() / "bin" / "java")


def test_uber_jar_submission_needs_no_job_server_or_jdk(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
):
    """Beam posts the job to Flink's REST API itself (the Kubernetes stream deployment): neither the
    job server jar nor a JDK is looked for, so an image without Java can submit."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    options = PipelineOptions(["--runner=FlinkRunner", "--flink_master=jm:8081", "--flink_submit_uber_jar"])
    flink.prepare(options)  # would raise ConfigError for the missing jar if it looked
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar is None
    assert options.view_as(JobServerOptions).job_server_java_launcher == "java"
