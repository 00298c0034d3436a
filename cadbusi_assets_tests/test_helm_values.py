"""deploy/helm/values.yaml (issue 14, item 1): the values for the official Dagster Helm chart
parse, name what the chart needs (K8sRunLauncher, our image as the user-code deployment, an
external PostgreSQL, object-storage zones, secrets from Kubernetes Secrets), agree with the
Dockerfile, and the instance settings they add are accepted by Dagster itself.

`helm` is not packaged for Debian, so the chart is not rendered here (README: `helm template`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cadbusi_assets.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
EXECUTOR_RUN_CONFIG = ROOT / "deploy" / "helm" / "k8s_job_executor.run_config.yaml"
#: variables the code reads outside settings.VARIABLES
OTHER_VARIABLES = {"CADBUSI_REQUIRE_STUDY_UID", "CADBUSI_EXECUTOR"}
SECRET_WORDS = ("PASSWORD", "API_KEY", "TOKEN", "SECRET", "PSEUDONYM_KEY")


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def deployment(values) -> dict:
    user = values["dagster-user-deployments"]
    assert user["enabled"] and user["enableSubchart"]
    (only,) = user["deployments"]
    return only


def _dockerfile_cmd() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD (\[.*?\])\s*$", text.replace("\\\n", " "), re.M | re.S)
    assert match, "Dockerfile has no JSON CMD"
    return json.loads(match.group(1))


def test_runs_are_kubernetes_jobs_with_our_image(values, deployment):
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    for key in ("imagePullPolicy", "loadInclusterConfig", "envConfigMaps", "envSecrets"):
        assert key in config  # required by the chart's schema
    assert config["resources"]["requests"]["cpu"]
    # runs inherit the code server's image, env, secrets and volumes
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_user_code_deployment_runs_the_dockerfile_command(deployment):
    cmd = _dockerfile_cmd()
    assert cmd[:3] == ["dagster", "code-server", "start"]
    port = int(cmd[cmd.index("-p") + 1])
    assert deployment["port"] == port
    args = deployment["codeServerArgs"]
    assert "dagsterApiGrpcArgs" not in deployment
    for flag in ("-m", "--location-name"):
        assert args[args.index(flag) + 1] == cmd[cmd.index(flag) + 1]
    assert deployment["image"]["repository"] and deployment["image"]["tag"]
    user = re.search(r"useradd .*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert deployment["podSecurityContext"]["runAsUser"] == int(user.group(1))


def test_instance_is_an_external_postgresql_with_the_psycopg2_scheme(values):
    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlHost"]
    assert pg["postgresqlScheme"] == "postgresql+psycopg2"
    # the password comes from a Secret the operator creates, never from this file
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert not pg["postgresqlPassword"]
    production = yaml.safe_load((ROOT / "deploy" / "dagster.production.yaml").read_text())
    assert production["storage"]["postgres"]["postgres_db"]["scheme"] == pg["postgresqlScheme"]


def test_production_settings_zones_and_secrets(deployment):
    env = deployment["env"]
    assert isinstance(env, dict)
    assert env["CADBUSI_DEPLOYMENT"] == "production"
    for zone in ("CADBUSI_RAW_ZONE", "CADBUSI_RESEARCH_ZONE"):
        assert env[zone].startswith("gs://")
    assert env["CADBUSI_RAW_ZONE"].split("/")[2] != env["CADBUSI_RESEARCH_ZONE"].split("/")[2]
    for name in ("CADBUSI_WAREHOUSE", "CADBUSI_PACS", "CADBUSI_LABELBOX"):
        assert env[name]
    assert set(env) <= set(VARIABLES) | OTHER_VARIABLES, set(env) - set(VARIABLES)
    # no secret value inline: passwords and keys come from Secrets
    assert not [k for k in env if any(w in k for w in SECRET_WORDS) and not k.endswith("_FILE")]
    secrets = {s["name"] for s in deployment["envSecrets"]}
    assert {"cadbusi-warehouse", "cadbusi-labelbox"} <= secrets
    # the pseudonym key is a file from a Secret volume, outside the zones
    key_path = Path(env["CADBUSI_PSEUDONYM_KEY_FILE"])
    mounts = {Path(m["mountPath"]): m for m in deployment["volumeMounts"]}
    mount = mounts[key_path.parent]
    assert mount["readOnly"] is True
    volume = next(v for v in deployment["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] and volume["secret"]["defaultMode"] == 0o400


def test_backfill_cancel_takes_effect_within_a_few_runs(values):
    """The daemon checks a backfill's status between chunks of submitted runs (Dagster reads
    the chunk size from this variable); a small chunk makes a cancel stop new runs soon."""
    from dagster._core.execution import asset_backfill

    env = values["dagsterDaemon"]["env"]
    chunk = int(env["DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE"])
    assert 1 <= chunk <= 5
    assert "DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE" in Path(asset_backfill.__file__).read_text()


def test_chart_images_match_the_installed_dagster(values):
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert str(values[part]["image"]["tag"]) == dg.__version__


def _instance_yaml(values: dict) -> dict:
    """The instance settings the chart adds to dagster.yaml from these values (the queued run
    coordinator, additionalInstanceConfig as is, and the retention block)."""
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator" and coordinator["enabled"]
    # run limits live in concurrency.runs; Dagster refuses them in both places
    assert not coordinator["config"]["queuedRunCoordinator"]
    retention = values["retention"]
    return {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        **values["additionalInstanceConfig"],
        "retention": {
            "schedule": {"purge_after_days": retention["schedule"]["purgeAfterDays"]},
            "sensor": {"purge_after_days": retention["sensor"]["purgeAfterDays"]},
        },
    }


def test_dagster_accepts_the_run_queue_and_daemon_settings(values, tmp_path):
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(_instance_yaml(values)))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        queue = instance.get_concurrency_config().run_queue_config
        runs = values["additionalInstanceConfig"]["concurrency"]["runs"]
        assert queue.max_concurrent_runs == runs["max_concurrent_runs"]
        limits = {(t["key"], t["limit"]) for t in queue.tag_concurrency_limits}
        assert ("dagster/backfill", 6) in limits
        # a backfill alone can never take every run slot from the nightly runs
        assert 0 < dict(limits)["dagster/backfill"] < queue.max_concurrent_runs
    finally:
        instance.dispose()


def test_k8s_job_executor_run_config(values):
    config = yaml.safe_load(EXECUTOR_RUN_CONFIG.read_text())["execution"]["config"]
    known = {
        "max_concurrent",
        "tag_concurrency_limits",
        "step_k8s_config",
        "per_step_k8s_config",
        "job_image",
        "env_secrets",
        "env_config_maps",
        "resources",
        "volumes",
        "volume_mounts",
    }
    assert set(config) <= known
    max_runs = values["additionalInstanceConfig"]["concurrency"]["runs"]["max_concurrent_runs"]
    assert 0 < config["max_concurrent"] <= max_runs
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError:  # dagster-k8s is only in the deployment image
        return

    @dg.asset(name="inpainted_images")
    def _step() -> None:
        return None

    job = dg.Definitions(
        assets=[_step], executor=k8s_job_executor
    ).resolve_implicit_global_asset_job_def()
    assert dg.validate_run_config(job, {"execution": {"config": config}})
