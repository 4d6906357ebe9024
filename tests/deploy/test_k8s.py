"""The Kubernetes manifests under docker/k8s/: every document validated against the Kubernetes schemas
(kubernetes-validate, bundled schemas, no cluster or network), then what the schemas cannot say about
the sharded CronJob: Indexed, as many pods as shards, no overlap, non-root, state shared and keyed by
controller, the config where the scanner looks for it, accepted by the scanner's own loader, its shards
covering each controller once, and secrets only as files.

The schemas check structure and types, with unknown fields refused (strict mode); they hold no enums,
so values such as `completionMode: Indexed` are checked here by name.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, latest_version

from tests.deploy.test_static import UID, comment_above, cron_fires, expected_fires, secret_env_names
from unifi_scanner.fleet.plan import plan, select
from unifi_scanner.settings import default_config_paths, load_settings

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "docker" / "k8s"
SINGLE = K8S_DIR / "cronjob.yaml"
SHARDED = K8S_DIR / "sharded-cronjob.yaml"
MANIFESTS = sorted(K8S_DIR.glob("*.yaml"))
# The oldest release the manifests claim (backoffLimitPerIndex is on by default from 1.29), and the
# newest the installed kubernetes-validate bundles, so that a field dropped or newly required in a later
# release fails here once the package is updated.
VERSIONS = ("1.29", latest_version())
INDEX = "JOB_COMPLETION_INDEX"
INDEX_FIELD = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
SHARD_ARGS = re.compile(r"^\$\(JOB_COMPLETION_INDEX\)/(\d+)$")


def documents(path: Path) -> list[dict]:
    """Every non-empty YAML document of a manifest."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def schema_problem(doc: dict, version: str) -> str | None:
    """Why `doc` is not a valid object of Kubernetes `version` (strict: no unknown fields), or None.

    A kind or apiVersion the schemas do not know is a problem too: kubernetes-validate's own command
    line only warns about it, which would let a typo in `apiVersion` through.
    """
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except ValidationError as exc:
        return f"{'.'.join(str(part) for part in exc.path)}: {exc.message}"
    except SchemaNotFoundError as exc:
        return exc.message
    return None


def pod_spec(cronjob: dict) -> dict:
    """The pod spec of a CronJob's job template."""
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def by_kind(path: Path) -> dict[str, dict]:
    """A manifest's documents keyed by kind (each kind appears once in these examples)."""
    docs = documents(path)
    kinds = {doc["kind"]: doc for doc in docs}
    assert len(kinds) == len(docs), f"{path.name}: a kind appears twice"
    return kinds


@pytest.fixture(scope="module")
def sharded() -> dict[str, dict]:
    """docker/k8s/sharded-cronjob.yaml, one document per kind."""
    return by_kind(SHARDED)


@pytest.fixture(scope="module")
def container(sharded: dict[str, dict]) -> dict:
    """The sharded CronJob's only container."""
    (only,) = pod_spec(sharded["CronJob"])["containers"]
    return only


# ------------------------------------------------------------------------------------------ schemas


def test_every_manifest_is_found() -> None:
    """Both CronJobs live in docker/k8s/, and nothing is left at the old path."""
    assert {SINGLE, SHARDED} <= set(MANIFESTS)
    assert not (REPO / "docker" / "k8s-cronjob.yaml").exists()
    assert all(documents(path) for path in MANIFESTS)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("path", "index"),
    [(path, index) for path in MANIFESTS for index in range(len(documents(path)))],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_document_matches_the_kubernetes_schema(path: Path, index: int, version: str) -> None:
    """Every document of every manifest is a valid object of each Kubernetes version tested."""
    doc = documents(path)[index]
    assert schema_problem(doc, version) is None, f"{path.name} {doc['kind']}: {schema_problem(doc, version)}"


def job_spec(doc: dict) -> dict:
    """The job spec inside a CronJob document."""
    return doc["spec"]["jobTemplate"]["spec"]


BREAKAGES = {
    "misspelled field": (lambda doc: job_spec(doc).update(parallelizm=4), "parallelizm"),
    "string for an integer": (lambda doc: job_spec(doc).update(completions="four"), "completions"),
    "no containers": (lambda doc: pod_spec(doc).pop("containers"), "containers"),
    "mount without a path": (lambda doc: pod_spec(doc)["containers"][0]["volumeMounts"][0].pop("mountPath"),
                             "mountPath"),
    "condition without status": (
        lambda doc: job_spec(doc)["podFailurePolicy"]["rules"][0]["onPodConditions"][0].pop("status"),
        "status"),
    "unknown apiVersion": (lambda doc: doc.update(apiVersion="batch/v2"), "batch/v2"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_schema_check_rejects_a_broken_copy(sharded: dict[str, dict], breakage: str) -> None:
    """The validation fails, naming the fault, on a copy of the sharded CronJob broken in one place."""
    broken = copy.deepcopy(sharded["CronJob"])
    damage, named = BREAKAGES[breakage]
    damage(broken)
    problem = schema_problem(broken, "1.29")
    assert problem is not None and named in problem, problem


# ------------------------------------------------------------------------------------------ both CronJobs


@pytest.mark.parametrize("path", [SINGLE, SHARDED], ids=lambda path: path.name)
def test_cronjob_runs_non_root_and_locked_down(path: Path) -> None:
    """uid/gid/fsGroup 1000, non-root, no service account token, read-only root, no privileges."""
    pod = pod_spec(by_kind(path)["CronJob"])
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    security = pod["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (UID, UID, UID)
    assert security["runAsNonRoot"] is True
    for container in pod["containers"]:
        assert container["securityContext"] == {"allowPrivilegeEscalation": False,
                                                 "readOnlyRootFilesystem": True,
                                                 "capabilities": {"drop": ["ALL"]}}
        assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}
        assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]


# ------------------------------------------------------------------------------------------ sharded


def test_sharded_job_is_indexed_one_pod_per_shard(sharded: dict[str, dict], container: dict) -> None:
    """Indexed, completions == parallelism == the N of `--shard $(JOB_COMPLETION_INDEX)/N`, N > 1."""
    job = job_spec(sharded["CronJob"])
    assert job["completionMode"] == "Indexed"
    assert container["args"][:2] == ["run", "--shard"] and len(container["args"]) == 3
    match = SHARD_ARGS.match(container["args"][2])
    assert match, container["args"]
    shards = int(match[1])
    assert shards > 1
    assert job["completions"] == job["parallelism"] == shards


def test_sharded_failures_stay_in_their_shard(sharded: dict[str, dict]) -> None:
    """No overlap, one try per shard without failing the others, evictions rerun, a deadline."""
    spec = sharded["CronJob"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    job = job_spec(sharded["CronJob"])
    # A global backoffLimit would end every shard at the first failed pod.
    assert job["backoffLimitPerIndex"] == 0 and "backoffLimit" not in job
    assert "maxFailedIndexes" not in job
    (rule,) = job["podFailurePolicy"]["rules"]
    assert rule == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert 0 < job["activeDeadlineSeconds"] <= 24 * 3600


def test_sharded_schedule_means_its_comment(sharded: dict[str, dict]) -> None:
    """The schedule fires when the comment above it says, in a real time zone."""
    spec = sharded["CronJob"]["spec"]
    assert ZoneInfo(spec["timeZone"])
    lines = SHARDED.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("schedule:"))
    assert cron_fires(spec["schedule"]) == expected_fires(comment_above(lines, index))


def test_sharded_env_refers_only_to_earlier_variables(container: dict) -> None:
    """The index is defined first, from the Job's annotation, and every $(VAR) in an env value names
    a variable defined above it: Kubernetes leaves a later one unexpanded."""
    env = container["env"]
    assert env[0] == {"name": INDEX, "valueFrom": {"fieldRef": {"fieldPath": INDEX_FIELD}}}
    defined: set[str] = set()
    for item in env:
        for name in re.findall(r"\$\((\w+)\)", item.get("value", "")):
            assert name in defined, f"{item['name']} refers to {name}, which is not defined above it"
        defined.add(item["name"])


def test_sharded_state_is_shared_and_keyed_by_controller(sharded: dict[str, dict], container: dict) -> None:
    """Every shard mounts the same ReadWriteMany claim at /data; the state directory is the same for
    all shards (the scanner keys it by controller), the reports directory is one per shard."""
    pod = pod_spec(sharded["CronJob"])
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    data = mounts["/data"]
    assert "subPath" not in data and "subPathExpr" not in data and not data.get("readOnly")
    claim = sharded["PersistentVolumeClaim"]
    assert volumes[data["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["UNIFI_STATE_DIR"].startswith("/data/") and "$(" not in env["UNIFI_STATE_DIR"]
    reports = env["UNIFI_REPORTS_DIR"]
    assert reports.startswith("/data/") and f"$({INDEX})" in reports
    assert not reports.startswith(env["UNIFI_STATE_DIR"].rstrip("/") + "/")


def test_sharded_config_is_mounted_where_the_scanner_looks(sharded: dict[str, dict], container: dict) -> None:
    """The ConfigMap is a read-only directory mount whose key makes one of the default config paths."""
    pod = pod_spec(sharded["CronJob"])
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (mount,) = [mount for mount in container["volumeMounts"] if "configMap" in volumes[mount["name"]]]
    # A subPath mount would never see an edited ConfigMap.
    assert mount["readOnly"] is True and "subPath" not in mount
    config_map = sharded["ConfigMap"]
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    found = [Path(mount["mountPath"]) / key for key in config_map["data"]]
    assert [path for path in found if path in default_config_paths()] == [Path("/config/config.yaml")]
    assert "--config" not in container["args"]


def secret_mount_of(sharded: dict[str, dict], container: dict) -> tuple[str, str]:
    """The sharded container's only Secret mount: (its path, the Secret's name); it must be read-only."""
    volumes = {volume["name"]: volume for volume in pod_spec(sharded["CronJob"])["volumes"]}
    (mount,) = [mount for mount in container["volumeMounts"] if "secret" in volumes[mount["name"]]]
    assert mount["readOnly"] is True
    return mount["mountPath"], volumes[mount["name"]]["secret"]["secretName"]


def test_sharded_secrets_are_files_the_kubectl_line_creates(sharded: dict[str, dict],
                                                             container: dict) -> None:
    """No secret value in the config or the env: each secret is a file under the read-only Secret mount,
    and the `kubectl create secret` line in the header creates exactly those files."""
    mount, secret_name = secret_mount_of(sharded, container)
    config = yaml.safe_load(sharded["ConfigMap"]["data"]["config.yaml"])
    secret_fields = {name.removeprefix("UNIFI_").lower() for name in secret_env_names()}
    for entry in [config, *config["controllers"]]:
        assert not set(entry) & secret_fields, f"a secret value in the config: {set(entry) & secret_fields}"
    files = [value for key, value in container_env(container).items() if key.endswith("_FILE")]
    files += [value for entry in config["controllers"]
              for key, value in entry.items() if key.endswith("_file")]
    assert len(files) >= 3 and all(Path(path).parent == Path(mount) for path in files), files

    created = re.search(rf"kubectl create secret generic {secret_name} \\\n((?:#\s+--from-file=.*\n)+)",
                        SHARDED.read_text())
    assert created, f"no `kubectl create secret generic {secret_name}` line"
    keys = set(re.findall(r"--from-file=(\w+)=", created[1]))
    assert keys == {Path(path).name for path in files}


def test_sharded_config_loads_and_its_shards_cover_each_controller_once(
        sharded: dict[str, dict], container: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap's config.yaml with the container's environment is a valid configuration for the
    scanner (its own loader, secret files in place of the Secret), one report per controller, and the
    manifest's N shards take every controller of the list exactly once."""
    mount, _ = secret_mount_of(sharded, container)
    secrets = tmp_path / "secrets"
    secrets.mkdir()

    def local(text: str) -> str:
        """A path of the pod, moved under tmp_path; shard 0's index."""
        text = text.replace(mount, str(secrets)).replace("$(JOB_COMPLETION_INDEX)", "0")
        return text.replace("/data/", f"{tmp_path}/data/")

    config_text = local(sharded["ConfigMap"]["data"]["config.yaml"])
    for name in re.findall(rf"{re.escape(str(secrets))}/(\w+)", config_text):
        (secrets / name).write_text(f"{name} value\n")
    for key, value in container_env(container).items():
        monkeypatch.setenv(key, local(value))
        if key.endswith("_FILE"):
            Path(local(value)).write_text("smtp value\n")
    config = tmp_path / "config.yaml"
    config.write_text(config_text)

    settings = load_settings(config)
    assert settings.report_per == "controller" and settings.email_enabled
    plans = plan(settings)
    names = [item.name for item in plans]
    assert len(names) >= 2
    shards = int(SHARD_ARGS.match(container["args"][2])[1])
    taken = [item.name for index in range(shards) for item in select(plans, shard=f"{index}/{shards}")]
    assert sorted(taken) == sorted(names)


def container_env(container: dict) -> dict[str, str]:
    """The container's plain env values (the index, from the downward API, has none)."""
    return {item["name"]: item["value"] for item in container["env"] if "value" in item}
