"""What `--runner=FlinkRunner` gets filled in (pipelines.flink.prepare), without starting Flink."""

from __future__ import annotations

import json
import pathlib

import pytest
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    JobServerOptions,
    PipelineOptions,
    PortableOptions,
)

from pipelines import flink, flink_jar
from schemas.errors import ConfigError


@pytest.fixture
def cached_jar(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    jar = flink_jar.jar_path()
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


def test_a_cluster_gets_one_boot_command_per_taskmanager(cached_jar: pathlib.Path):
    options = PipelineOptions(["--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081"])
    flink.prepare(options)
    portable = options.view_as(PortableOptions)
    assert portable.environment_type == "PROCESS"
    command = json.loads(portable.environment_config)["command"]
    assert pathlib.Path(command).name == "wirewatch-sdk-worker"
    assert pathlib.Path(command).is_file()
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == str(cached_jar)


def test_flink_1_19_is_the_default_and_other_versions_need_their_own_jar(cached_jar: pathlib.Path):
    options = PipelineOptions(["--runner=FlinkRunner"])
    flink.prepare(options)
    assert options.view_as(FlinkRunnerOptions).flink_version == "1.19"
    with pytest.raises(ConfigError, match=r"--flink_version=2.0: only Beam's Flink 1.19 runner"):
        flink.prepare(PipelineOptions(["--runner=FlinkRunner", "--flink_version=2.0"]))


def test_the_jar_is_keyed_by_the_pom(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pom = tmp_path / "pom.xml"
    pom.write_text("<project>1</project>")
    first = flink_jar.jar_path(pom)
    pom.write_text("<project>2</project>")
    assert flink_jar.jar_path(pom) != first
    assert first.is_relative_to(tmp_path / "cache" / "wirewatch" / "flink")


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
    assert flink_jar.find_java({"JAVA_HOME": str(home)}) == str(home.resolve() / "bin" / "java")


def test_an_unsupported_java_home_is_passed_over(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(flink_jar, "JVM_ROOT", tmp_path / "jvm")
    fake_jdk(tmp_path / "jvm" / "temurin-25", 25)
    jdk17 = fake_jdk(tmp_path / "jvm" / "openjdk-17", 17)
    home = fake_jdk(tmp_path / "jdk8", 8)
    assert flink_jar.find_java({"JAVA_HOME": str(home)}) == str(jdk17.resolve() / "bin" / "java")


def test_uber_jar_submission_needs_the_jar_but_no_jdk(cached_jar: pathlib.Path):
    """Beam packs the pipeline into a copy of the job server jar and posts it to Flink's REST API
    itself: the jar is the base, but no Java process starts here."""
    options = PipelineOptions(["--runner=FlinkRunner", "--flink_master=jm:8081", "--flink_submit_uber_jar"])
    flink.prepare(options)
    assert options.view_as(FlinkRunnerOptions).flink_job_server_jar == str(cached_jar)
    assert options.view_as(JobServerOptions).job_server_java_launcher == "java"


def test_a_stream_on_flink_checkpoints_by_default_and_the_flag_reaches_the_job_server(
    cached_jar: pathlib.Path,
):
    options = PipelineOptions(["--runner=FlinkRunner", "--streaming"])
    flink.prepare(options)
    # Serialized the way the portable runner sends options to the job server (Java reads them by name).
    sent = options.get_all_options(drop_default=True)
    assert sent["checkpointing_interval"] == flink.STREAMING_CHECKPOINT_MS
    own = PipelineOptions(["--runner=FlinkRunner", "--streaming", "--checkpointing_interval=5000"])
    flink.prepare(own)
    assert own.view_as(flink.FlinkCheckpointOptions).checkpointing_interval == 5000
    batch = PipelineOptions(["--runner=FlinkRunner"])
    flink.prepare(batch)
    assert batch.view_as(flink.FlinkCheckpointOptions).checkpointing_interval is None
